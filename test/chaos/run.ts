import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { cleanupRun } from './cleanup.js';
import { evaluate } from './evaluate.js';
import { createChaosFleet } from './fleet.js';
import { seededRandom } from './random.js';
import { summaryTable, writeReport } from './report.js';
import { ChaosDriver } from './scenario.js';

/**
 * `npm run chaos`: a supervised fleet on one shared board, hammered with board swaps, `kanban init`,
 * `kanban restore`, gateway SIGKILLs and one supervisor SIGKILL mid-wave; then the invariants are
 * checked and a report is written to bench-results/chaos.json. Exits 1 on any violation.
 *
 * Environment: CHAOS_SEED (replay a schedule), CHAOS_SWAPS (default 260), CHAOS_JOURNAL (`wal`, the
 * default, or `delete`: the journal mode of every board and process), CHAOS_KEEP=1 (keep the
 * temp folder for a post-mortem; processes are stopped anyway).
 */
const REPORT = path.join(repoRoot, 'bench-results', 'chaos.json');
const SWAP_PHASE_LIMIT_MS = 6 * 60_000;

function tailOf(file: string, chars: number): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(no output)';
  }
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  const seed = Number(process.env.CHAOS_SEED ?? startedAt % 2 ** 31);
  const swaps = Number(process.env.CHAOS_SWAPS ?? 260);
  const keep = process.env.CHAOS_KEEP === '1';
  const journal = process.env.CHAOS_JOURNAL ?? 'wal';
  if (journal !== 'wal' && journal !== 'delete') throw new Error(`CHAOS_JOURNAL: expected wal or delete, got '${journal}'`);
  const fleet = createChaosFleet(journal);
  const driver = new ChaosDriver(fleet, seededRandom(seed), {
    swaps,
    boardJobs: Math.max(3, Math.round(swaps / 8)),
    deadlineMs: startedAt + SWAP_PHASE_LIMIT_MS,
    maxGatewayKills: 60,
  });
  console.log(`chaos: seed ${seed}, ${fleet.profiles.length} gateways and services, ${journal} boards, ${swaps} swaps, folder ${fleet.root}`);

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`chaos: ${signal}, stopping everything the run started`);
    void cleanupRun(fleet.root, driver.supervisors, keep).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    await driver.run();
    const report = evaluate(driver, seed, startedAt);
    writeReport(REPORT, report);
    console.log(summaryTable(report));
    for (const violation of report.violations) console.log(`VIOLATION [${violation.check}] ${violation.message}`);
    console.log(`chaos: report in ${path.relative(process.cwd(), REPORT) || REPORT}${keep ? `; run folder kept: ${fleet.root}` : ''}`);
    return report.ok ? 0 : 1;
  } catch (error) {
    console.error(`chaos: the run failed: ${(error as Error).stack ?? String(error)}`);
    driver.tail.poll();
    for (const event of driver.tail.events.slice(-20)) console.error(`  event ${JSON.stringify(event)}`);
    for (const supervisor of driver.supervisors) {
      console.error(`chaos: last output of supervisor ${supervisor.pid}:\n${tailOf(supervisor.outputFile, 3000)}`);
    }
    return 2;
  } finally {
    if (!interrupted) {
      const killed = await cleanupRun(fleet.root, driver.supervisors, keep);
      if (killed.length > 0) console.error(`chaos: cleanup killed ${killed.length} process(es) left behind: ${killed.join(', ')}`);
    }
  }
}

// Exit explicitly: a CLI call cut off by a signal may leave a handle behind.
process.exit(await main());
