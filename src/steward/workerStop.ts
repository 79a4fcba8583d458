import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStat } from '../board/index.js';
import { KILL_WAIT_MS } from '../proc/index.js';
import type { StaleWorker } from './fencePlan.js';

/** What Hermes's own reclaim gives a worker between SIGTERM and SIGKILL (about 5 s). */
export const WORKER_STOP_GRACE_MS = 5000;

const SIGTERM_NUMBER = 15;

/** Whether the SigCgt mask in /proc/<pid>/status text says the process catches signal `number`; null when the line is missing. */
export function catchesSignal(statusText: string, number: number): boolean | null {
  const match = /^SigCgt:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  if (!match) return null;
  return ((BigInt(`0x${match[1]}`) >> BigInt(number - 1)) & 1n) === 1n;
}

/** A kanban worker a job ended, and how. */
export interface StoppedWorker extends StaleWorker, WorkerStop {}

export interface WorkerStop {
  /** The signal that ended it (SIGKILL when SIGTERM did not, or could not be used); null when it was gone already. */
  signal: 'SIGTERM' | 'SIGKILL' | null;
  /** gone: not there any more; term/kill: ended by that signal; stuck: still there after SIGKILL (uninterruptible sleep). */
  result: 'gone' | 'term' | 'kill' | 'stuck';
}

/**
 * Ends a kanban worker frozen on a replaced board, only while `pid` is still the process started at
 * `startTime`. It must never run another instruction: resumed, its SIGTERM handler would finish its
 * transaction into the old file and close its connection, and SQLite would then delete `-wal` or
 * `-journal` by name, names that now belong to the new file. So SIGTERM + SIGCONT only when it does not
 * catch SIGTERM (the kernel ends it as it wakes), else SIGKILL at once; SIGKILL too after `graceMs`.
 */
export async function stopFrozenWorker(pid: number, startTime: number, graceMs = WORKER_STOP_GRACE_MS): Promise<WorkerStop> {
  const alive = aliveCheck(pid, startTime);
  if (!alive()) return { signal: null, result: 'gone' };
  if (catchesSignal(readStatus(pid), SIGTERM_NUMBER) === false) {
    send(pid, 'SIGTERM');
    send(pid, 'SIGCONT');
    if (await gone(alive, graceMs)) return { signal: 'SIGTERM', result: 'term' };
  }
  send(pid, 'SIGKILL');
  return { signal: 'SIGKILL', result: (await gone(alive, KILL_WAIT_MS)) ? 'kill' : 'stuck' };
}

/**
 * Ends a kanban worker on a board that is still in place (before a restore or a rebuild replaces
 * it), only while `pid` is still the process started at `startTime`: SIGTERM, so it may finish its
 * transaction and close its connection on the file it opened, then SIGKILL after `graceMs`.
 */
export async function stopWorker(pid: number, startTime: number, graceMs = WORKER_STOP_GRACE_MS): Promise<WorkerStop> {
  const alive = aliveCheck(pid, startTime);
  if (!alive()) return { signal: null, result: 'gone' };
  send(pid, 'SIGTERM');
  if (await gone(alive, graceMs)) return { signal: 'SIGTERM', result: 'term' };
  send(pid, 'SIGKILL');
  return { signal: 'SIGKILL', result: (await gone(alive, KILL_WAIT_MS)) ? 'kill' : 'stuck' };
}

function aliveCheck(pid: number, startTime: number): () => boolean {
  return () => {
    const stat = readProcStat(pid);
    return stat !== null && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
  };
}

function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // Gone meanwhile: no mask, so no SIGTERM; the SIGKILL that follows finds nothing.
    return '';
  }
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone meanwhile.
  }
}

async function gone(alive: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive()) {
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
  return true;
}
