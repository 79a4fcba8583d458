import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ENV, STATE_DIR_MARK, WORKER_ENV } from '../hermes/index.js';
import { PGID_MARK, readEnviron } from '../proc/marks.js';
import { listPids, readProcStat } from './proc.js';
import { realBoardPath } from './resolve.js';

/** The variables Hermes's dispatcher sets on each kanban worker it spawns. */

/**
 * Linux reports /proc/<pid>/stat start times in USER_HZ, which is 100 on every architecture Node
 * ships for; sysconf(_SC_CLK_TCK) is out of Node's reach.
 */
const TICKS_PER_SECOND = 100;

/** What one process's /proc says, as far as telling a kanban worker goes. */
export interface ProcessFacts {
  pid: number;
  ppid: number;
  pgrp: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot. */
  startTime: number;
  env: ReadonlyMap<string, string>;
}

/** A live kanban worker of this supervisor's fleet. */
export interface KanbanWorker {
  pid: number;
  task: string;
  runId: string | null;
  /** The worker's HERMES_HOME, null when unset. */
  home: string | null;
  /** HERMES_KANBAN_DB, null when unset (the worker resolves its board itself). */
  db: string | null;
  startTime: number;
}

/**
 * The kanban workers among `processes`: those carrying the task mark and this supervisor's state-dir
 * mark (inherited from the gateway that spawned them), other supervisors' fleets left out. A worker's
 * own children inherit the same task and run: only the top of each such tree counts. A member of a
 * group the supervisor started (a gateway, a hook, an init: its PGID mark is its group) is no worker,
 * even when the supervisor's own environment passed a task mark down to it.
 */
export function selectWorkers(processes: readonly ProcessFacts[], stateDir: string): KanbanWorker[] {
  const marked = new Map<number, ProcessFacts>();
  for (const facts of processes) {
    if (!facts.env.has(WORKER_ENV.task) || facts.env.get(STATE_DIR_MARK) !== stateDir) continue;
    if (facts.env.get(PGID_MARK) !== String(facts.pgrp)) marked.set(facts.pid, facts);
  }
  const sameRun = (a: ProcessFacts, b: ProcessFacts) =>
    a.env.get(WORKER_ENV.task) === b.env.get(WORKER_ENV.task) && a.env.get(WORKER_ENV.runId) === b.env.get(WORKER_ENV.runId);
  const workers: KanbanWorker[] = [];
  for (const facts of marked.values()) {
    const parent = marked.get(facts.ppid);
    if (parent !== undefined && sameRun(parent, facts)) continue;
    workers.push({
      pid: facts.pid,
      task: facts.env.get(WORKER_ENV.task)!,
      runId: facts.env.get(WORKER_ENV.runId) ?? null,
      home: facts.env.get(ENV.home) ?? null,
      db: facts.env.get(ENV.kanbanDb) ?? null,
      startTime: facts.startTime,
    });
  }
  return workers.sort((a, b) => a.pid - b.pid);
}

/** The boot time in epoch seconds, from the `btime` line of /proc/stat text; null when it has none. */
export function parseBootTime(procStat: string): number | null {
  const match = /^btime (\d+)$/m.exec(procStat);
  return match ? Number(match[1]) : null;
}

/** Whole seconds a process started `startTime` ticks after boot has run at `nowMs`; never negative. */
export function ageSeconds(startTime: number, bootTime: number, nowMs: number): number {
  return Math.max(0, Math.floor(nowMs / 1000 - (bootTime + startTime / TICKS_PER_SECOND)));
}

/** The profile a worker acts for: a known profile by its home, `default` for the Hermes root, else the home's folder name. */
export function workerProfile(home: string | null, profiles: ReadonlyArray<{ name: string; home: string }>, hermesHome: string): string | null {
  if (home === null) return null;
  const resolved = path.resolve(home);
  const known = profiles.find((profile) => path.resolve(profile.home) === resolved);
  if (known !== undefined) return known.name;
  if (resolved === path.resolve(hermesHome)) return 'default';
  return path.basename(resolved);
}

/**
 * The slug of the board at `db` among `boards`, or `db` itself when it is none of them. A worker
 * given a symlinked board's link or its real file is on the same board.
 */
export function workerBoard(db: string | null, boards: ReadonlyArray<{ slug: string; path: string }>): string | null {
  if (db === null) return null;
  const resolved = path.resolve(db);
  const byPath = boards.find((board) => path.resolve(board.path) === resolved);
  if (byPath) return byPath.slug;
  const real = realBoardPath(resolved);
  return boards.find((board) => realBoardPath(board.path) === real)?.slug ?? db;
}

/**
 * Every live kanban worker of the fleet whose state dir is `stateDir`. Reads each process's stat and
 * environ once: a few milliseconds on a busy host, so it runs when asked, never on a timer.
 */
export function scanWorkers(stateDir: string): KanbanWorker[] {
  const processes: ProcessFacts[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const env = readEnviron(pid);
    if (env === null || !env.has(WORKER_ENV.task)) continue;
    const stat = readProcStat(pid);
    // A zombie's environ reads empty; a worker that exited and is not yet reaped is not live anyway.
    if (stat === null || stat.state === 'Z') continue;
    processes.push({ pid, ppid: stat.ppid, pgrp: stat.pgrp, startTime: stat.startTime, env });
  }
  return selectWorkers(processes, stateDir);
}

/** The host's boot time in epoch seconds. */
export function bootTime(): number {
  const boot = parseBootTime(readFileSync('/proc/stat', 'utf8'));
  if (boot === null) throw new Error('/proc/stat: no "btime <seconds>" line');
  return boot;
}
