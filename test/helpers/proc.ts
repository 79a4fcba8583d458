import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { processStartTime } from '../../src/board/proc.js';
import type { Scope } from './scope.js';

/** Live (non-zombie) pids whose command line contains `marker`, read from /proc. */
export function pidsWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (cmdline.includes(marker) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** SIGKILLs each of `pids` still running: only for pids read from /proc a moment ago. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/**
 * Processes a test started outside any fleet folder, each named when it is known to be alive (pid and
 * start time) and SIGKILLed at teardown only if that same process still runs. A teardown long after
 * must never hit a pid reused meanwhile by another test's gateway. A group is killed by its leader's
 * pid: while any member lives, no new process can take that number, so a free pid is still safe.
 */
export function ownProcesses(t: Scope): (pid: number, options?: { group?: boolean }) => number {
  const owned: Array<{ pid: number; startTime: number; group: boolean }> = [];
  t.teardown(() => {
    for (const { pid, startTime, group } of owned) {
      const now = processStartTime(pid);
      if (now === null ? !group : now !== startTime) continue;
      try {
        process.kill(group ? -pid : pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  });
  return (pid, options = {}) => {
    const startTime = processStartTime(pid);
    if (startTime !== null) owned.push({ pid, startTime, group: options.group ?? false });
    return pid;
  };
}

export function processEnv(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

/** What each of a process's open fds points at (paths, `socket:[...]`, ...); empty once it is gone. */
export function openFiles(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}
