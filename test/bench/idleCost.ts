// Figure 4: what the supervisor itself costs with a fleet of idle gateways (CPU and RSS, read from
// /proc), and what one holder audit costs (test/bench/auditCost.ts, run as a child).
import type { AuditCostResult } from './auditCost.js';
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../helpers/paths.js';
import { ofType, startBenchFleet, type BenchProfile } from './benchFleet.js';
import { onCleanup, tempRoot } from './cleanup.js';
import { round, summarize, type Summary } from './stats.js';

/** Kernel clock ticks per second for utime/stime; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

export interface IdleCost {
  gateways: number;
  gateway_command: string;
  window_s: number;
  /** First gateway.spawn to the last gateway.ready. */
  fleet_start_ms: number;
  /** Mean CPU of the supervisor over the window, in % of one core. */
  cpu_percent: number;
  /** CPU ms the supervisor used in each 1 s slice of the window. */
  cpu_ms_per_s: Summary | null;
  rss_mb: Summary | null;
  load_avg_1m: number;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is index 0, so utime (14th overall) is index 11, stime index 12.
  return Number(fields[11]) + Number(fields[12]);
}

function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

export async function measureIdleCost(gateways: number, windowS: number): Promise<IdleCost> {
  const profiles: Record<string, BenchProfile> = {};
  for (let i = 1; i <= gateways; i++) profiles[`idle${String(i).padStart(3, '0')}`] = { mode: 'idle' };
  const fleet = await startBenchFleet({ prefix: `hs-bench-idle${gateways}-`, profiles, startTimeoutMs: 180_000 });
  try {
    const events = fleet.events();
    const spawns = ofType(events, 'gateway.spawn').map((e) => e.ts_ms);
    const readies = ofType(events, 'gateway.ready').map((e) => e.ts_ms);
    const pid = fleet.supervisor.child.pid!;
    await sleep(2000);
    const slices: number[] = [];
    const rss: number[] = [rssKb(pid) / 1024];
    const first = cpuTicks(pid);
    let last = first;
    for (let s = 0; s < windowS; s++) {
      await sleep(1000);
      const now = cpuTicks(pid);
      slices.push(((now - last) * 1000) / CLK_TCK);
      last = now;
      rss.push(rssKb(pid) / 1024);
    }
    return {
      gateways,
      gateway_command: 'python3 hermes_gateway.py --mode idle',
      window_s: windowS,
      fleet_start_ms: Math.round(Math.max(...readies) - Math.min(...spawns)),
      cpu_percent: round((((last - first) / CLK_TCK) * 100) / windowS, 2),
      cpu_ms_per_s: summarize(slices, 0),
      rss_mb: summarize(rss, 1),
      load_avg_1m: round(os.loadavg()[0]!, 2),
    };
  } finally {
    await fleet.dispose();
  }
}


/** Runs dist/test/bench/auditCost.js with its temp files (and gateways) under a folder of ours. */
export async function measureAuditCost(sizes: number[]): Promise<AuditCostResult[]> {
  const temp = tempRoot('hs-bench-audit-');
  const script = path.join(repoRoot, 'dist', 'test', 'bench', 'auditCost.js');
  let child: ChildProcess | undefined;
  const stopChild = onCleanup(() => {
    child?.kill('SIGKILL');
  });
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      child = execFile(
        process.execPath,
        [script, ...sizes.map(String)],
        { env: { ...process.env, TMPDIR: temp.root }, timeout: 240_000, maxBuffer: 1 << 20 },
        (error, out) => (error ? reject(error) : resolve(out)),
      );
    });
    return JSON.parse(stdout) as AuditCostResult[];
  } finally {
    await stopChild();
    await temp.dispose();
  }
}
