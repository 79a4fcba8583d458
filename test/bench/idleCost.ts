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
  /** CPU time of every thread (ended ones up to their last sample) over the window, in % of one core. */
  cpu_percent: number;
  /** CPU ms in each 1 s slice of the window. */
  cpu_ms_per_s: Summary | null;
  /** Wake-ups of the main thread over the window (schedstat's timeslice count): what an idle daemon costs. */
  main_thread_wakeups: number;
  rss_mb: Summary | null;
  /** Pages this process alone holds (Private_Clean + Private_Dirty of smaps_rollup): RSS less the node binary and libraries it shares. */
  private_mb: Summary | null;
  /** Least-squares slope of RSS over the window, in MB per hour. */
  rss_slope_mb_per_h: number;
}

export interface IdleCase {
  gateways: number;
  boards: number;
  gateway_command: string;
  /** How long both daemons had been idle, their fleets up, before the window (past V8's memory-reducing GCs). */
  settle_s: number;
  window_s: number;
  supervisor: IdleSide & { fleet_start_ms: number };
  pm2: IdleSide;
  /** Supervisor over PM2; null when PM2 used no measurable CPU. */
  cpu_ratio: number | null;
  rss_ratio: number;
}

/** One schedstat line: nanoseconds on the CPU, then nanoseconds waiting, then timeslices run. */
function schedstat(pid: number, tid: string): [number, number] | null {
  try {
    const fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
    return [Number(fields[0]), Number(fields[2])];
  } catch {
    return null;
  }
}

/**
 * CPU time of a process, thread by thread, from /proc/<pid>/task/<tid>/schedstat (nanoseconds, where
 * utime + stime count 10 ms ticks and charge a 1 ms wake-up a whole tick or nothing). A thread that
 * ends keeps what it had run up to its last sample; one that starts counts from zero.
 */
class CpuMeter {
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();
  private readonly firstSlices: number;
  private mainSlices: number;

  constructor(private readonly pid: number) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = schedstat(pid, tid);
      if (stat) this.first.set(tid, stat[0]);
    }
    this.firstSlices = schedstat(pid, String(pid))?.[1] ?? 0;
    this.mainSlices = this.firstSlices;
    this.sample();
  }

  /** Reads every live thread; returns the CPU ns the process has run since the meter started. */
  sample(): number {
    for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
      const stat = schedstat(this.pid, tid);
      if (!stat) continue;
      if (!this.first.has(tid)) this.first.set(tid, 0);
      this.last.set(tid, stat[0]);
      if (tid === String(this.pid)) this.mainSlices = stat[1];
    }
    let total = 0;
    for (const [tid, last] of this.last) total += last - (this.first.get(tid) ?? 0);
    return total;
  }

  get mainThreadWakeups(): number {
    return this.mainSlices - this.firstSlices;
  }
}

function statusKb(text: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

const rssMb = (pid: number) => statusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS') / 1024;

function privateMb(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return (statusKb(rollup, 'Private_Clean') + statusKb(rollup, 'Private_Dirty')) / 1024;
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

/** Samples every pid once a second, in the same window, for `windowS` seconds. */
async function sampleIdle(pids: number[], windowS: number): Promise<IdleSide[]> {
  const sides = pids.map((pid) => ({ pid, meter: new CpuMeter(pid), lastNs: 0, slices: [] as number[], rss: [rssMb(pid)], priv: [privateMb(pid)] }));
  for (let s = 0; s < windowS; s++) {
    await sleep(1000);
    for (const side of sides) {
      const ns = side.meter.sample();
      side.slices.push((ns - side.lastNs) / 1e6);
      side.lastNs = ns;
      side.rss.push(rssMb(side.pid));
      side.priv.push(privateMb(side.pid));
    }
  }
  return sides.map((side) => ({
    cpu_percent: round((side.lastNs / 1e9 / windowS) * 100, 3),
    cpu_ms_per_s: summarize(side.slices, 2),
    main_thread_wakeups: side.meter.mainThreadWakeups,
    rss_mb: summarize(side.rss, 1),
    private_mb: summarize(side.priv, 1),
    rss_slope_mb_per_h: round(slopePerHour(side.rss), 1),
  }));
}

/**
 * Hermes's pace, not the tests' quicker one: gateway_state.json re-stamped once a minute by newer
 * versions' housekeeping, and (the fixture's default) the loop heartbeat every 30 s.
 */
const IDLE_HEARTBEAT = ['--heartbeat-ms', '60000'];

const idleProfiles = (gateways: number): Record<string, BenchProfile> => {
  const profiles: Record<string, BenchProfile> = {};
  for (let i = 1; i <= gateways; i++) profiles[`idle${String(i).padStart(3, '0')}`] = { mode: 'idle', args: IDLE_HEARTBEAT };
  return profiles;
};

interface RunningDaemon {
  pid: number;
  dispose(): Promise<void>;
}

async function startSupervisorFleet(gateways: number, boards: number): Promise<RunningDaemon & { fleet_start_ms: number }> {
  const fleet = await startBenchFleet({ prefix: `hs-bench-idle${gateways}-`, profiles: idleProfiles(gateways), startTimeoutMs: 300_000, extraBoards: boards - 1 });
  const events = fleet.events();
  const spawns = ofType(events, 'gateway.spawn').map((e) => e.ts_ms);
  const readies = ofType(events, 'gateway.ready').map((e) => e.ts_ms);
  return { pid: fleet.supervisor.child.pid!, fleet_start_ms: Math.round(Math.max(...readies) - Math.min(...spawns)), dispose: () => fleet.dispose() };
}

/** PM2's daemon holding the same fixture processes, with the environment a supervisor would give them. */
async function startPm2Fleet(gateways: number, boards: number): Promise<RunningDaemon> {
  const temp = tempRoot(`hs-bench-idle-pm2${gateways}-`);
  const profiles = idleProfiles(gateways);
  const home = makeHermesHome(temp.root, profiles, true, boards - 1);
  const pm2 = new Pm2(temp.root);
  const stop = onCleanup(() => pm2.kill());
  const dispose = async () => {
    await stop();
    await temp.dispose();
  };
  try {
    await pm2.start(
      Object.entries(profiles).map(([name, profile]) => {
        const [script, ...args] = fixtureArgs(name, profile, home.logsDir);
        const env = { ...grantedEnv(home.profileDirs[name]!, home.hermesHome), HERMES_GATEWAY_EXTERNAL_SUPERVISOR: '1' };
        return { name, interpreter: python, script: script!, args, env, watch: [] };
      }),
    );
    const deadline = Date.now() + 300_000;
    for (;;) {
      // A jlist that fails while hundreds of apps start is asked again, until the deadline.
      const online = await pm2.list().then((apps) => apps.filter((p) => p.status === 'online').length, () => 0);
      if (online >= gateways) break;
      if (Date.now() > deadline) throw new Error(`PM2 did not bring ${gateways} processes online`);
      await sleep(500);
    }
    return { pid: pm2.daemonPid(), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * The supervisor and PM2's daemon, each holding `gateways` idle fixture gateways (and `boards` boards
 * for the supervisor to look after), both up at once and measured in the same window after the same
 * settling time, so that whatever else the host does falls on both.
 */
export async function measureIdleCost(gateways: number, windowS: number, options: { boards?: number; settleS?: number } = {}): Promise<IdleCase> {
  const boards = options.boards ?? 1;
  const settleS = options.settleS ?? 180;
  const daemons: RunningDaemon[] = [];
  try {
    const supervisorFleet = await startSupervisorFleet(gateways, boards);
    daemons.push(supervisorFleet);
    const pm2Fleet = await startPm2Fleet(gateways, boards);
    daemons.push(pm2Fleet);
    await sleep(settleS * 1000);
    const [supervisor, pm2] = (await sampleIdle([supervisorFleet.pid, pm2Fleet.pid], windowS)) as [IdleSide, IdleSide];
    return {
      gateways,
      boards,
      gateway_command: 'python3 hermes_gateway.py --mode idle',
      settle_s: settleS,
      window_s: windowS,
      supervisor: { ...supervisor, fleet_start_ms: supervisorFleet.fleet_start_ms },
      pm2,
      cpu_ratio: pm2.cpu_percent > 0 ? round(supervisor.cpu_percent / pm2.cpu_percent, 2) : null,
      rss_ratio: round((supervisor.rss_mb?.p50 ?? Number.NaN) / (pm2.rss_mb?.p50 ?? Number.NaN), 2),
    };
  } finally {
    for (const daemon of daemons.reverse()) await daemon.dispose();
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
