import { processTree, readProcStat } from '../board/proc.js';
import { killProcess } from './group.js';
import { readEnviron } from './marks.js';

/** A descendant that left its ancestor's process group (setsid), with its start time. */
export interface Escaped {
  pid: number;
  startTime: number;
}

/**
 * Processes in the tree under `pgid`'s leader but outside its group, except those carrying `spareMark`
 * in their environment and the rest of their groups: they are meant to outlive the leader. Found
 * while their parent still links them.
 */
export function escapedDescendants(pgid: number, spareMark?: string): Escaped[] {
  const outside = (processTree([pgid]).get(pgid) ?? [])
    .map((pid) => ({ pid, stat: readProcStat(pid) }))
    .filter(({ stat }) => stat !== null && stat.pgrp !== pgid);
  const spared = new Set(spareMark === undefined ? [] : outside.filter(({ pid }) => readEnviron(pid)?.has(spareMark)).map(({ stat }) => stat!.pgrp));
  return outside.filter(({ stat }) => !spared.has(stat!.pgrp)).map(({ pid, stat }) => ({ pid, startTime: stat!.startTime }));
}

/** SIGKILL to each escaped descendant still alive, checking its start time so a reused pid is never hit. */
export function killEscaped(escaped: Escaped[]): void {
  for (const { pid, startTime } of escaped) killProcess(pid, startTime);
}
