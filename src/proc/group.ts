import { setTimeout as sleep } from 'node:timers/promises';
import { listPids, readProcStat } from '../board/proc.js';

/** Sends a signal to a whole process group; a group that is already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    // Gone, or (EPERM) no longer ours: a pid the kernel gave to another user's process.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || code === 'EPERM') return false;
    throw err;
  }
}

/**
 * Members of a process group that still run. Zombies are left out: they are dead, and one whose new
 * parent never reaps it (an init that does not wait) would otherwise keep a group "alive" for ever.
 */
export function liveGroupMembers(pgid: number): number[] {
  if (!signalGroup(pgid, 0)) return [];
  const members: number[] = [];
  for (const pid of listPids()) {
    const stat = readProcStat(pid);
    if (stat !== null && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(pid);
  }
  return members;
}

export const groupAlive = (pgid: number): boolean => liveGroupMembers(pgid).length > 0;

/** Whether a live member of the group is stopped (SIGSTOP): frozen by a fence. */
export const groupFrozen = (pgid: number): boolean => liveGroupMembers(pgid).some((pid) => readProcStat(pid)?.state === 'T');

/** Waits until no member of the group runs; false if some still do after timeoutMs. */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

/**
 * Kills whatever is left of a group once its leader has exited, so no descendant keeps a board
 * open or outlives its gateway, and waits until the group is gone.
 */
export async function reapGroup(pgid: number, timeoutMs = 2000): Promise<boolean> {
  if (!groupAlive(pgid)) return true;
  signalGroup(pgid, 'SIGKILL');
  return waitGroupGone(pgid, timeoutMs);
}

/** SIGKILL to one process, only if it is still the one started at `startTime`: a reused pid is never hit. */
export function killProcess(pid: number, startTime?: number): boolean {
  if (startTime !== undefined && readProcStat(pid)?.startTime !== startTime) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    // Gone meanwhile, or no longer ours.
    return false;
  }
}
