import { listPids, processTree, readProcStat } from '../board/proc.js';
import { STATE_DIR_MARK } from '../hermes/index.js';
import { killProcess } from './group.js';
import { PGID_MARK, readEnviron } from './marks.js';

/** A descendant that left its ancestor's process group (setsid), with its start time. */
export interface Escaped {
  pid: number;
  startTime: number;
}

export interface EscapeOptions {
  /** Processes carrying this variable, and the rest of their groups, are meant to outlive the leader: spared. */
  spareMark?: string;
  /**
   * The supervisor's state dir: a process carrying its mark and the leader's pid as PGID mark, in a
   * group of its own, escaped too, even when no parent links it to the leader any more (a double fork).
   */
  stateDir?: string;
}

/**
 * Processes that came from `pgid`'s leader but run outside its group: those in its tree (found while
 * their parent still links them), and with `stateDir`, those the marks in their environment name as
 * its own (a double fork reparents them away from the tree). Reading every process's environ costs a
 * few milliseconds: this runs when a gateway is stopped, never on a timer.
 */
export function escapedDescendants(pgid: number, options: EscapeOptions = {}): Escaped[] {
  const outside = new Map<number, { pgrp: number; startTime: number; env: Map<string, string> | null }>();
  for (const pid of processTree([pgid]).get(pgid) ?? []) {
    const stat = readProcStat(pid);
    if (stat !== null && stat.pgrp !== pgid) outside.set(pid, { pgrp: stat.pgrp, startTime: stat.startTime, env: null });
  }
  if (options.stateDir !== undefined) {
    for (const pid of listPids()) {
      if (outside.has(pid) || pid === process.pid) continue;
      const env = readEnviron(pid);
      if (env === null || env.get(STATE_DIR_MARK) !== options.stateDir || env.get(PGID_MARK) !== String(pgid)) continue;
      const stat = readProcStat(pid);
      if (stat !== null && stat.pgrp !== pgid && stat.state !== 'Z') outside.set(pid, { pgrp: stat.pgrp, startTime: stat.startTime, env });
    }
  }
  const spareMark = options.spareMark;
  const spared = new Set<number>();
  if (spareMark !== undefined) {
    for (const [pid, facts] of outside) if ((facts.env ?? readEnviron(pid))?.has(spareMark)) spared.add(facts.pgrp);
  }
  return [...outside].filter(([, facts]) => !spared.has(facts.pgrp)).map(([pid, facts]) => ({ pid, startTime: facts.startTime }));
}

/** SIGKILL to each escaped descendant still alive, checking its start time so a reused pid is never hit. */
export function killEscaped(escaped: Escaped[]): void {
  for (const { pid, startTime } of escaped) killProcess(pid, startTime);
}
