// `npm run bench:soak [-- --minutes M]`: the supervisor and PM2's daemon, side by side and at the same
// time, each holding 50 idle fixture gateways for M minutes (default 60), sampled every second; reports
// each one's CPU and the slope of its RSS. Writes bench-results/soak.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { runCleanups } from './cleanup.js';
import { measureIdleCost } from './idleCost.js';
import { machineInfo } from './machine.js';

const GATEWAYS = 50;
const SETTLE_S = 180;
const at = process.argv.indexOf('--minutes');
const minutes = at >= 0 ? Number(process.argv[at + 1]) : 60;
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error(`bench:soak: --minutes expects a positive number, got ${process.argv[at + 1]}`);
  process.exit(2);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void runCleanups().finally(() => process.exit(130)));

try {
  const windowS = Math.round(minutes * 60);
  process.stderr.write(`[soak] ${GATEWAYS} idle gateways under each daemon for ${minutes} min\n`);
  const idle = await measureIdleCost(GATEWAYS, windowS, { settleS: SETTLE_S });
  const { supervisor, pm2 } = idle;
  const report = { generated_at: new Date().toISOString(), ...machineInfo(), ...idle };
  const dir = path.join(repoRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`| daemon | CPU, % of a core | RSS MB (start → end) | RSS slope MB/h |`);
  console.log(`| --- | --- | --- | --- |`);
  for (const [name, side] of [['hermes-supervisor', supervisor], ['PM2', pm2]] as const) {
    console.log(`| ${name} | ${side.cpu_percent} | ${side.rss_mb?.min} – ${side.rss_mb?.max} | ${side.rss_slope_mb_per_h} |`);
  }
} catch (error) {
  process.exitCode = 1;
  console.error(error);
} finally {
  await runCleanups();
}
