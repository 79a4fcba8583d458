// Figure 4: what the supervisor itself costs while nothing happens, side by side with PM2's daemon
// holding the same idle processes (CPU and RSS read from /proc), and what one holder audit costs
// (test/bench/auditCost.ts, run as a child).
import type { AuditCostResult } from './auditCost.js';
import { execFile, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { python } from '../helpers/fixture.js';
import { repoRoot } from '../helpers/paths.js';
import { fixtureArgs, grantedEnv, makeHermesHome, ofType, startBenchFleet, type BenchProfile } from './benchFleet.js';
import { onCleanup, tempRoot } from './cleanup.js';
import { Pm2 } from './pm2.js';
import { round, summarize, type Summary } from './stats.js';

/** One daemon's cost over the window. */
export interface IdleSide {
  /** CPU time of the process (utime + stime, every thread, ended ones included) over the window, in % of one core. */
  cpu_percent: number;
  /** CPU ms in each 1 s slice of the window, from the live threads' schedstat. */
  cpu_ms_per_s: Summary | null;
  rss_mb: Summary | null;
  /** Least-squares slope of RSS over the window, in MB per hour. */
  rss_slope_mb_per_h: number;
}

export interface IdleCase {
  gateways: number;
  boards: number;
  gateway_command: string;
  /** How long both daemons had been idle before the window (past the supervisor's post-start audits). */
  settle_s: number;
  window_s: number;
  supervisor: IdleSide & { fleet_start_ms: number };
  pm2: IdleSide;
  /** Supervisor over PM2; null when PM2 used no measurable CPU. */
  cpu_ratio: number | null;
  rss_ratio: number;
}

/** Kernel clock ticks per second for utime/stime; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

/**
 * CPU ms of the whole process, from utime + stime in /proc/<pid>/stat: it keeps the time of threads
 * that have ended (a probe's worker thread), which per-thread counters lose. 10 ms ticks: precise
 * enough over a window of a minute or more.
 */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/**
 * CPU nanoseconds the live threads of `pid` have run, from /proc/<pid>/task/<tid>/schedstat: precise
 * enough to see a single wake-up in a 1 s slice, where 10 ms ticks cannot.
 */
function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return total;
}

function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

function slopePerHour(values: number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((sum, v) => sum + v, 0) / n;
  let num = 0;
  let den = 0;
  values.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return (num / den) * 3600;
}

/** Samples `pid` once a second for `windowS` seconds. */
export async function sampleIdle(pid: number, windowS: number): Promise<IdleSide> {
  const slices: number[] = [];
  const rss: number[] = [rssMb(pid)];
  const firstMs = processCpuMs(pid);
  let last = cpuNs(pid);
  for (let s = 0; s < windowS; s++) {
    await sleep(1000);
    const now = cpuNs(pid);
    // A thread that ended in this slice takes its counter with it: such a slice is not counted.
    if (now >= last) slices.push((now - last) / 1e6);
    last = now;
    rss.push(rssMb(pid));
  }
  return {
    cpu_percent: round(((processCpuMs(pid) - firstMs) / 1000 / windowS) * 100, 3),
    cpu_ms_per_s: summarize(slices, 2),
    rss_mb: summarize(rss, 1),
    rss_slope_mb_per_h: round(slopePerHour(rss), 1),
  };
}

const idleProfiles = (gateways: number): Record<string, BenchProfile> => {
  const profiles: Record<string, BenchProfile> = {};
  for (let i = 1; i <= gateways; i++) profiles[`idle${String(i).padStart(3, '0')}`] = { mode: 'idle' };
  return profiles;
};

export async function supervisorSide(gateways: number, boards: number, settleS: number, windowS: number): Promise<IdleSide & { fleet_start_ms: number }> {
  const fleet = await startBenchFleet({ prefix: `hs-bench-idle${gateways}-`, profiles: idleProfiles(gateways), startTimeoutMs: 300_000, extraBoards: boards - 1 });
  try {
    const events = fleet.events();
    const spawns = ofType(events, 'gateway.spawn').map((e) => e.ts_ms);
    const readies = ofType(events, 'gateway.ready').map((e) => e.ts_ms);
    await sleep(settleS * 1000);
    const side = await sampleIdle(fleet.supervisor.child.pid!, windowS);
    return { ...side, fleet_start_ms: Math.round(Math.max(...readies) - Math.min(...spawns)) };
  } finally {
    await fleet.dispose();
  }
}

/** PM2's daemon holding the same fixture processes, with the environment a supervisor would give them. */
export async function pm2Side(gateways: number, boards: number, settleS: number, windowS: number): Promise<IdleSide> {
  const temp = tempRoot(`hs-bench-idle-pm2${gateways}-`);
  const profiles = idleProfiles(gateways);
  const home = makeHermesHome(temp.root, profiles, true, boards - 1);
  const pm2 = new Pm2(temp.root);
  const stop = onCleanup(() => pm2.kill());
  try {
    await pm2.start(
      Object.entries(profiles).map(([name, profile]) => {
        const [script, ...args] = fixtureArgs(name, profile, home.logsDir);
        const env = { ...grantedEnv(home.profileDirs[name]!, home.hermesHome), HERMES_GATEWAY_EXTERNAL_SUPERVISOR: '1' };
        return { name, interpreter: python, script: script!, args, env, watch: [] };
      }),
    );
    const deadline = Date.now() + 300_000;
    while ((await pm2.list()).filter((p) => p.status === 'online').length < gateways) {
      if (Date.now() > deadline) throw new Error(`PM2 did not bring ${gateways} processes online`);
      await sleep(500);
    }
    await sleep(settleS * 1000);
    return await sampleIdle(pm2.daemonPid(), windowS);
  } finally {
    await stop();
    await temp.dispose();
  }
}

/**
 * The supervisor and PM2's daemon, one after the other, each holding `gateways` idle fixture
 * gateways (and `boards` boards for the supervisor to look after), measured over the same window
 * after the same settling time.
 */
export async function measureIdleCost(gateways: number, windowS: number, options: { boards?: number; settleS?: number } = {}): Promise<IdleCase> {
  const boards = options.boards ?? 1;
  const settleS = options.settleS ?? 20;
  const supervisor = await supervisorSide(gateways, boards, settleS, windowS);
  const pm2 = await pm2Side(gateways, boards, settleS, windowS);
  return {
    gateways,
    boards,
    gateway_command: 'python3 hermes_gateway.py --mode idle',
    settle_s: settleS,
    window_s: windowS,
    supervisor,
    pm2,
    cpu_ratio: pm2.cpu_percent > 0 ? round(supervisor.cpu_percent / pm2.cpu_percent, 2) : null,
    rss_ratio: round((supervisor.rss_mb?.p50 ?? Number.NaN) / (pm2.rss_mb?.p50 ?? Number.NaN), 2),
  };
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
