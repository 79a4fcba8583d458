import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Hermes's runtime status file in the gateway's HERMES_HOME: `starting`, `running`, `draining`, ... */
export const GATEWAY_STATE_FILE = 'gateway_state.json';

export interface GatewayStateRecord {
  state: string | null;
  pid: number | null;
}

export const gatewayStatePath = (home: string): string => path.join(home, GATEWAY_STATE_FILE);

/** What a gateway's state file says, or null while there is none (or only half of one) to read. */
export function readGatewayState(home: string): GatewayStateRecord | null {
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(gatewayStatePath(home), 'utf8'));
  } catch {
    return null;
  }
  if (typeof record !== 'object' || record === null) return null;
  const { gateway_state: state, pid } = record as Record<string, unknown>;
  return {
    state: typeof state === 'string' ? state : null,
    pid: typeof pid === 'number' && Number.isInteger(pid) ? pid : null,
  };
}

/** The file's change stamp (mtime and size), so a poll reads it only when it changed; null when absent. */
export function gatewayStateStamp(home: string): string | null {
  try {
    const stat = statSync(gatewayStatePath(home));
    return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch {
    return null;
  }
}
