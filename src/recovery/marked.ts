import { listPids, readProcStat } from '../board/proc.js';
import { markedGroupKind, type GroupKind } from '../proc/index.js';

/**
 * Process groups this state dir's supervisor started (gateways, hooks, inits) found by their marks:
 * what a killed supervisor left behind, including a group started an instant before the kill, before
 * its record was written. A process in a group of its own that merely inherited the marks (a kanban
 * worker) does not count. Another user's /proc/<pid>/environ cannot be read, and such a process is skipped.
 */
export function findMarkedGroups(stateDir: string, exclude: ReadonlySet<number> = new Set([process.pid])): Array<{ pgid: number; kind: GroupKind }> {
  const groups = new Map<number, GroupKind>();
  for (const pid of listPids()) {
    if (exclude.has(pid)) continue;
    const stat = readProcStat(pid);
    if (!stat || stat.state === 'Z' || exclude.has(stat.pgrp) || groups.has(stat.pgrp)) continue;
    const kind = markedGroupKind(pid, stat.pgrp, stateDir);
    if (kind !== null) groups.set(stat.pgrp, kind);
  }
  return [...groups].map(([pgid, kind]) => ({ pgid, kind }));
}
