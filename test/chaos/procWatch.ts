import { readdirSync, readFileSync } from 'node:fs';
import { statIdentity, type FileIdentity } from './boardOps.js';

/** A process as /proc shows it: its state letter, parent and start time (field 22, to tell a reused pid apart). */
interface ProcInfo {
  state: string;
  ppid: number;
  startTime: number;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', ppid: Number(fields[1]), startTime: Number(fields[19]) };
  } catch {
    return null;
  }
}

const live = (info: ProcInfo | null): info is ProcInfo => info !== null && info.state !== 'Z' && info.state !== 'X';

/** Live (non-zombie) processes by profile: a process belongs to a profile when one argument of its argv is the profile's marker. */
export function gatewayProcesses(markers: ReadonlyMap<string, string>): Map<string, Array<{ pid: number; info: ProcInfo }>> {
  const byMarker = new Map<string, string>([...markers].map(([profile, marker]) => [marker, profile]));
  const found = new Map<string, Array<{ pid: number; info: ProcInfo }>>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const profile = args.map((arg) => byMarker.get(arg)).find((name) => name !== undefined);
    // A kanban worker logs where its gateway does but is no gateway: it outlives it by design.
    if (profile === undefined || isWorker(args)) continue;
    const info = readProc(Number(entry));
    if (!live(info)) continue;
    const list = found.get(profile) ?? [];
    list.push({ pid: Number(entry), info });
    found.set(profile, list);
  }
  // A gateway's child between fork and exec (a kanban worker being spawned) still shows the gateway's
  // command line: it is the gateway's child, not a second gateway.
  for (const [profile, list] of found) {
    const pids = new Set(list.map(({ pid }) => pid));
    found.set(profile, list.filter(({ info }) => !pids.has(info.ppid)));
  }
  return found;
}

/** The fixture's kanban worker: `--mode worker` on its command line. */
export function isWorker(args: readonly string[]): boolean {
  return args.some((arg, index) => arg === '--mode' && args[index + 1] === 'worker');
}

/** Pids (other than this process) whose command line contains `marker` anywhere, zombies excluded. */
export function processesNaming(marker: string): Array<{ pid: number; cmdline: string; state: string }> {
  const found: Array<{ pid: number; cmdline: string; state: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      const info = readProc(Number(entry));
      if (cmdline.includes(marker) && live(info)) found.push({ pid: Number(entry), cmdline, state: info.state });
    } catch {
      // Ended while we looked.
    }
  }
  return found;
}

export interface Overlap {
  atMs: number;
  profile: string;
  processes: Array<{ pid: number; state: string }>;
}

export interface SeenProcess {
  profile: string;
  pid: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/**
 * Samples /proc every `intervalMs`: every gateway process by profile, and the board path's identity.
 * Two live processes for one profile in a sample are checked again at once (a scan is not atomic:
 * one may have exited while the other was read); if both are still the same live processes, that
 * moment had two gateways for the profile.
 */
export class ProcWatch {
  samples = 0;
  readonly overlaps: Overlap[] = [];
  /** Keyed by `profile:pid`. */
  readonly seen = new Map<string, SeenProcess>();
  readonly pathIdentities: Array<FileIdentity & { firstSeenMs: number }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly markers: ReadonlyMap<string, string>,
    private readonly board: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  lastSeen(profile: string, pid: number): number | undefined {
    return this.seen.get(`${profile}:${pid}`)?.lastSeenMs;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): void {
    const now = Date.now();
    this.samples += 1;
    const found = gatewayProcesses(this.markers);
    for (const [profile, processes] of found) {
      for (const { pid } of processes) {
        const seen = this.seen.get(`${profile}:${pid}`);
        if (seen) seen.lastSeenMs = now;
        else this.seen.set(`${profile}:${pid}`, { profile, pid, firstSeenMs: now, lastSeenMs: now });
      }
      if (processes.length < 2) continue;
      const still = processes
        .map(({ pid, info }) => ({ pid, before: info, after: readProc(pid) }))
        .filter(({ before, after }) => live(after) && after.startTime === before.startTime);
      if (still.length >= 2) {
        this.overlaps.push({ atMs: Date.now(), profile, processes: still.map(({ pid, after }) => ({ pid, state: after!.state })) });
      }
    }
    this.sampleBoard(now);
  }

  private sampleBoard(now: number): void {
    let identity: FileIdentity | null;
    try {
      identity = statIdentity(this.board);
    } catch {
      return;
    }
    const last = this.pathIdentities.at(-1);
    if (identity && !(last && last.dev === identity.dev && last.ino === identity.ino && last.birthtimeMs === identity.birthtimeMs)) {
      this.pathIdentities.push({ ...identity, firstSeenMs: now });
    }
  }
}
