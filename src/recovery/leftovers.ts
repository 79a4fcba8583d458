import { processStartTime, readProcStat } from '../board/proc.js';
import type { EventLog } from '../events/index.js';
import { signalGroup } from '../fleet/processGroup.js';
import { waitGroupGone } from '../fleet/processGroup.js';
import { STATE_DIR_MARK } from '../hermes/index.js';
import { findMarkedGroups } from './marked.js';
import { forgetGateway, readGateways, type GatewayRecord } from './records.js';

export type LeftoverResult = 'stopped' | 'killed' | 'gone';

export interface ReapedGateway {
  profile: string;
  pid: number;
  result: LeftoverResult;
}

export interface ReapOptions {
  /** How long a leftover gets to exit after SIGTERM before its group is killed. */
  stopTimeoutMs: number;
  events?: EventLog;
}

/** After SIGKILL a group only needs the kernel to tear it down; a group still there is in D state. */
const KILL_WAIT_MS = 5000;

/** Whether a record still names the very process that was recorded: same pid, same start time. */
export function isSameProcess(record: GatewayRecord, currentStartTime: number | null): boolean {
  return currentStartTime !== null && currentStartTime === record.startTime;
}

/**
 * Gateways a previous supervisor left running. A pid that is alive with another start time was
 * reused by an unrelated process, which is never touched.
 */
export function findLeftovers(stateDir: string): GatewayRecord[] {
  return readGateways(stateDir).filter((record) => isSameProcess(record, processStartTime(record.pid)));
}

/** SIGTERM (then SIGCONT, so a fenced group can act on it) and SIGKILL after the timeout. */
async function stopGroup(pgid: number, stopTimeoutMs: number): Promise<LeftoverResult> {
  if (!signalGroup(pgid, 'SIGTERM')) return 'gone';
  signalGroup(pgid, 'SIGCONT');
  if (await waitGroupGone(pgid, stopTimeoutMs)) return 'stopped';
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, KILL_WAIT_MS);
  return 'killed';
}

/**
 * Stops every verified leftover's whole process group and clears all records: those of leftovers
 * once their group is gone, and those naming a process that exited or a reused pid at once.
 */
export async function reapLeftovers(stateDir: string, options: ReapOptions): Promise<ReapedGateway[]> {
  const records = readGateways(stateDir);
  const recorded = await Promise.all(
    records.map(async (record): Promise<ReapedGateway> => {
      const startTime = processStartTime(record.pid);
      const verified = isSameProcess(record, startTime);
      const result = verified ? await stopGroup(record.pgid, options.stopTimeoutMs) : 'gone';
      forgetGateway(stateDir, record.profile, record);
      options.events?.emit('gateway.leftover', {
        profile: record.profile,
        pid: record.pid,
        pgid: record.pgid,
        start_time: record.startTime,
        result,
        ...(verified ? {} : { reason: startTime === null ? 'exited' : 'pid reused' }),
      });
      return { profile: record.profile, pid: record.pid, result };
    }),
  );
  // Gateways no record names (spawned right before the previous supervisor died) are found by their mark.
  const own = readProcStat(process.pid)?.pgrp ?? process.pid;
  const unrecorded = findMarkedGroups(stateDir, new Set([process.pid, own]));
  const marked = await Promise.all(
    unrecorded.map(async (pgid): Promise<ReapedGateway> => {
      const result = await stopGroup(pgid, options.stopTimeoutMs);
      options.events?.emit('gateway.leftover', { profile: null, pid: pgid, pgid, result, reason: `no record; found by ${STATE_DIR_MARK}` });
      return { profile: '(unrecorded)', pid: pgid, result };
    }),
  );
  return [...recorded, ...marked];
}
