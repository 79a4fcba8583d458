import path from 'node:path';
import { parseUpdatedAt, pidField, readStateObject } from './gatewayState.js';

/**
 * Hermes's event-loop heartbeat in the gateway's HERMES_HOME: rewritten every 30 s whether or not
 * anything happens (`gateway/shutdown_watchdog.py`), where `gateway_state.json` is written on
 * transitions and, in newer versions, on a 60 s housekeeping tick.
 */
const LOOP_HEARTBEAT_FILE = path.join('state', 'gateway.heartbeat');

export const loopHeartbeatPath = (home: string): string => path.join(home, LOOP_HEARTBEAT_FILE);

export interface LoopHeartbeat {
  pid: number | null;
  /** `updated_at` in ms since the epoch; null when the file has none that reads as a time. */
  updatedAt: number | null;
}

/** What a loop heartbeat file says, or null while there is none (or only half of one) to read. */
export function readLoopHeartbeat(file: string): LoopHeartbeat | null {
  const record = readStateObject(file);
  return record === null ? null : { pid: pidField(record.pid), updatedAt: parseUpdatedAt(record.updated_at) };
}
