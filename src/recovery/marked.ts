import { readFileSync } from 'node:fs';
import { listPids, readProcStat } from '../board/proc.js';
import { STATE_DIR_MARK } from '../hermes/index.js';

/**
 * Process groups holding a process whose environment carries this state dir's mark (every gateway
 * gets STATE_DIR_MARK): gateways a killed supervisor left behind, including one spawned an instant
 * before the kill, before its record was written. Another user's /proc/<pid>/environ cannot be
 * read, and such a process is skipped.
 */
export function findMarkedGroups(stateDir: string, exclude: ReadonlySet<number> = new Set([process.pid])): number[] {
  const mark = `${STATE_DIR_MARK}=${stateDir}`;
  const groups = new Set<number>();
  for (const pid of listPids()) {
    if (exclude.has(pid)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(mark)) continue;
    const stat = readProcStat(pid);
    if (stat && stat.state !== 'Z' && !exclude.has(stat.pgrp)) groups.add(stat.pgrp);
  }
  return [...groups];
}
