import { readProcStat } from '../board/proc.js';
import { gatewayStatePath, stateFileStamp, readGatewayState, type GatewayStateRecord } from '../hermes/index.js';

/** Where a gateway's readiness comes from: Hermes's `gateway_state.json`, or being alive for `ready_after`. */
export type ReadyFrom = 'state_file' | 'timer';

/** How often a starting gateway's state file is looked at (a stat; a read only when it changed). */
export const STATE_POLL_MS = 100;

/**
 * What a state file tells about the gateway whose group leader is `leader`: `running`, some other
 * state of its own (`starting`), or nothing (no file, or a file of another process: a previous run's).
 */
export type StateVerdict = 'running' | 'ours' | 'none';

export function stateVerdict(record: Pick<GatewayStateRecord, 'state' | 'pid'> | null, isOurs: (pid: number) => boolean): StateVerdict {
  if (record === null || record.pid === null || !isOurs(record.pid)) return 'none';
  return record.state === 'running' ? 'running' : 'ours';
}

/**
 * The rule at `ready_after`: with `timer` the gateway is ready. With `state_file` only its own state
 * file saying `running` makes it ready, however slowly Hermes starts (its imports alone can take longer
 * than `ready_after` on a busy host); the timer stands in only when there is no home to look in.
 */
export function readyAtTimer(from: ReadyFrom, hasHome: boolean): boolean {
  return from === 'timer' || !hasHome;
}

/** The pid in the state file is the gateway's: its leader, or a process in its group (a wrapper's child). */
export function inGroup(leader: number): (pid: number) => boolean {
  return (pid) => pid === leader || readProcStat(pid)?.pgrp === leader;
}

export interface ReadinessOptions {
  home: string | undefined;
  leader: number;
  from: ReadyFrom;
  readyAfterMs: number;
  /**
   * Called once, with where readiness came from and the profiles the gateway's own state file says it
   * serves (read at that moment, never polled for; null when it says none).
   */
  ready: (from: ReadyFrom, served: string[] | null) => void;
  /** Called once at `ready_after` when a gateway that should write a state file has written none yet. */
  noStateFile?: () => void;
}

/** A state file's record when it is this gateway's own, not a previous run's. */
function ownRecord(record: GatewayStateRecord | null, ours: (pid: number) => boolean): GatewayStateRecord | null {
  return stateVerdict(record, ours) === 'none' ? null : record;
}

/** Watches a starting gateway until it is ready; `stop` ends the watch (an exit, a stop). */
export function watchReadiness(options: ReadinessOptions): { stop(): void } {
  const { home, leader, from } = options;
  const file = home === undefined ? undefined : gatewayStatePath(home);
  let stamp: string | null = null;
  const ours = inGroup(leader);
  const finish = (how: ReadyFrom, record: GatewayStateRecord | null) => {
    stop();
    options.ready(how, record?.servedProfiles ?? null);
  };
  const poll =
    from === 'state_file' && file !== undefined
      ? setInterval(() => {
          const now = stateFileStamp(file);
          if (now === null || now === stamp) return;
          stamp = now;
          const record = readGatewayState(file);
          if (stateVerdict(record, ours) === 'running') finish('state_file', record);
        }, STATE_POLL_MS)
      : undefined;
  const timer = setTimeout(() => {
    if (readyAtTimer(from, file !== undefined)) finish('timer', file === undefined ? null : ownRecord(readGatewayState(file), ours));
    else if (stamp === null && stateFileStamp(file!) === null) options.noStateFile?.();
  }, options.readyAfterMs);
  const stop = () => {
    clearInterval(poll);
    clearTimeout(timer);
  };
  return { stop };
}
