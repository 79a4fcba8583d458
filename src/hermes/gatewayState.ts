import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { servedProfileNames } from './topology.js';

/** Hermes's runtime status file in the gateway's HERMES_HOME: `starting`, `running`, `draining`, ... */
export const GATEWAY_STATE_FILE = 'gateway_state.json';

export interface GatewayStateRecord {
  state: string | null;
  pid: number | null;
  /** `updated_at` in ms since the epoch: written on each transition and, in newer Hermes, on a 60 s housekeeping tick. */
  updatedAt: number | null;
  /** The profiles a multiplexing gateway serves (`served_profiles`); null when the file names none. */
  servedProfiles: string[] | null;
}

export const gatewayStatePath = (home: string): string => path.join(home, GATEWAY_STATE_FILE);

/** A Hermes JSON state file's fields, or null while there is none (or only half of one) to read: Hermes replaces them whole. */
export function readStateObject(file: string): Record<string, unknown> | null {
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  return typeof record === 'object' && record !== null ? (record as Record<string, unknown>) : null;
}

/** A pid as Hermes writes one, or null. */
export const pidField = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) ? value : null);

/** What a gateway's state file (gatewayStatePath) says, or null while there is none (or only half of one) to read. */
export function readGatewayState(file: string): GatewayStateRecord | null {
  const record = readStateObject(file);
  if (record === null) return null;
  const { gateway_state: state, pid, updated_at: updatedAt, served_profiles: served } = record;
  return {
    state: typeof state === 'string' ? state : null,
    pid: pidField(pid),
    updatedAt: parseUpdatedAt(updatedAt),
    servedProfiles: servedProfileNames(served),
  };
}

/**
 * `updated_at` as Hermes writes it (ISO-8601 UTC) or as older versions did (epoch seconds, a number
 * or a numeric string; Hermes's `normalize_updated_at` reads both); null when it is neither.
 */
export function parseUpdatedAt(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  const epoch = Number(value);
  if (Number.isFinite(epoch)) return epoch * 1000;
  // An ISO time without a zone is UTC to Hermes, not local time.
  const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(value.trim()) ? value.trim() : `${value.trim()}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * A Hermes state file's change stamp (mtime, size and inode: a file replaced by a rename has a new
 * one), so a poll reads it only when it changed; null when absent or unreadable. A missing file is
 * no exception: a gateway that never writes one costs no throw per poll.
 */
export function stateFileStamp(file: string): string | null {
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    return stat === undefined ? null : `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch {
    return null;
  }
}
