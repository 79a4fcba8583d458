import { processStartTime, readProcStat } from '../board/proc.js';
import type { EventLog } from '../events/index.js';
import { ENV, STATE_DIR_MARK, writePlannedStop } from '../hermes/index.js';
import { groupFrozen, readEnviron, terminateGroup, type GroupKind, type Termination } from '../proc/index.js';
import { findMarkedGroups } from './marked.js';
import { forgetGroup, readGateways, readGroups, type GatewayRecord, type GroupRecord } from './records.js';

export type LeftoverResult = 'stopped' | 'killed' | 'gone';

export interface ReapedGateway {
  profile: string;
  pid: number;
  result: LeftoverResult;
}

/** A hook or init a previous supervisor left running, and what became of it. */
export interface ReapedGroup {
  kind: GroupKind;
  name: string | null;
  pid: number;
  result: LeftoverResult;
}

export interface ReapOptions {
  /** How long a leftover gets to exit after SIGTERM before its group is killed. */
  stopTimeoutMs: number;
  events?: EventLog;
}

/** Whether a record still names the very process that was recorded: same pid, same start time. */
export function isSameProcess(record: Pick<GatewayRecord, 'startTime'>, currentStartTime: number | null): boolean {
  return currentStartTime !== null && currentStartTime === record.startTime;
}

/**
 * Gateways a previous supervisor left running. A pid that is alive with another start time was
 * reused by an unrelated process, which is never touched.
 */
export function findLeftovers(stateDir: string): GatewayRecord[] {
  return readGateways(stateDir).filter((record) => isSameProcess(record, processStartTime(record.pid)));
}

const RESULTS: Record<Termination, LeftoverResult> = { gone: 'gone', term: 'stopped', kill: 'killed', stuck: 'killed' };

/**
 * A group left frozen was fenced by the supervisor that died: its board was replaced, and resumed it
 * would finish its transaction into the old file and delete the board's `-journal` by name, which may
 * be a current writer's by now. It is killed as it is, as the fence would have (see Gateway.terminate).
 */
async function stopGroup(pgid: number, kind: GroupKind, stopTimeoutMs: number): Promise<LeftoverResult> {
  const kill = groupFrozen(pgid);
  if (kind === 'gateway' && !kill) markPlannedStop(pgid);
  return RESULTS[await terminateGroup(pgid, { graceMs: stopTimeoutMs, kill })];
}

/**
 * A leftover gateway is stopped on purpose, like any other stop: the planned-stop marker in its home
 * (read from its own environment, which the supervisor set) tells Hermes so, and it exits 0 with its
 * state saved instead of treating the SIGTERM as unexpected.
 */
function markPlannedStop(leader: number): void {
  const home = readEnviron(leader)?.get(ENV.home);
  const startTime = processStartTime(leader);
  if (home === undefined || startTime === null) return;
  try {
    writePlannedStop(home, { targetPid: leader, targetStartTime: startTime, stopperPid: process.pid, writtenAt: new Date() });
  } catch {
    // The stop goes on without it: Hermes then exits non-zero, which is all it costs.
  }
}

const leftoverEvent = (kind: GroupKind): string => `${kind}.leftover`;

/**
 * Stops every process group a previous supervisor left running (gateways, hooks, inits) and clears
 * their records: those of leftovers once their group is gone, those naming a process that exited or
 * a reused pid at once. Then the groups no record names, found by their marks.
 */
export async function reapLeftovers(stateDir: string, options: ReapOptions): Promise<ReapedGateway[]> {
  const reaped = await reapAll(stateDir, options);
  return reaped.filter((group) => group.kind === 'gateway').map(({ name, pid, result }) => ({ profile: name ?? '(unrecorded)', pid, result }));
}

/** reapLeftovers, telling every kind of group. */
export async function reapAll(stateDir: string, options: ReapOptions): Promise<ReapedGroup[]> {
  const recorded = await Promise.all(readGroups(stateDir).map((record) => reapRecorded(stateDir, record, options)));
  const own = readProcStat(process.pid)?.pgrp ?? process.pid;
  const unrecorded = findMarkedGroups(stateDir, new Set([process.pid, own]));
  const marked = await Promise.all(
    unrecorded.map(async ({ pgid, kind }): Promise<ReapedGroup> => {
      const result = await stopGroup(pgid, kind, options.stopTimeoutMs);
      options.events?.emit(leftoverEvent(kind), {
        ...(kind === 'gateway' ? { profile: null } : { name: null }),
        pid: pgid,
        pgid,
        result,
        reason: `no record; found by ${STATE_DIR_MARK}`,
      });
      return { kind, name: null, pid: pgid, result };
    }),
  );
  return [...recorded, ...marked];
}

async function reapRecorded(stateDir: string, record: GroupRecord, options: ReapOptions): Promise<ReapedGroup> {
  const startTime = processStartTime(record.pid);
  const verified = isSameProcess(record, startTime);
  const result = verified ? await stopGroup(record.pgid, record.kind, options.stopTimeoutMs) : 'gone';
  forgetGroup(stateDir, record);
  options.events?.emit(leftoverEvent(record.kind), {
    ...(record.kind === 'gateway' ? { profile: record.name } : { name: record.name }),
    pid: record.pid,
    pgid: record.pgid,
    start_time: record.startTime,
    result,
    ...(verified ? {} : { reason: startTime === null ? 'exited' : 'pid reused' }),
  });
  return { kind: record.kind, name: record.name, pid: record.pid, result };
}
