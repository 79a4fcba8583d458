import fs from 'node:fs';
import path from 'node:path';
import { readPrivateFile, replacePrivateFile } from '../trust/index.js';

/** A running gateway as the supervisor started it; pid plus start time names one process for good. */
export interface GatewayRecord {
  profile: string;
  pid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat when the gateway was recorded. */
  startTime: number;
}

interface StoredRecord {
  pid: number;
  pgid: number;
  start_time: number;
  recorded_at: string;
}

/** `<state_dir>/gateways.json`: what a supervisor that died without stopping its fleet left running. */
export const gatewaysFile = (stateDir: string): string => path.join(stateDir, 'gateways.json');

const isPositiveInteger = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

// Keyed by profile in a Map: a profile name is data, and on a plain object "__proto__" is not.
type Stored = Map<string, StoredRecord>;

/** The valid entries on disk; a missing or unparsable file has none, an invalid entry is skipped. */
function readStored(stateDir: string): Stored {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readPrivateFile(gatewaysFile(stateDir)));
  } catch {
    return new Map();
  }
  const gateways = (parsed as { gateways?: unknown } | null)?.gateways;
  const stored: Stored = new Map();
  if (typeof gateways !== 'object' || gateways === null) return stored;
  for (const [profile, entry] of Object.entries(gateways)) {
    const candidate = entry as Partial<StoredRecord> | null;
    if (candidate && isPositiveInteger(candidate.pid) && isPositiveInteger(candidate.pgid) && isCount(candidate.start_time)) {
      stored.set(profile, {
        pid: candidate.pid,
        pgid: candidate.pgid,
        start_time: candidate.start_time,
        recorded_at: String(candidate.recorded_at ?? ''),
      });
    }
  }
  return stored;
}

/**
 * Replaces the file in one step (temp file, fsync, rename), so a supervisor killed mid-write leaves
 * the old records or the new ones, never half of either. An empty set removes the file.
 */
function writeStored(stateDir: string, stored: Stored): void {
  const file = gatewaysFile(stateDir);
  if (stored.size === 0) {
    fs.rmSync(file, { force: true });
    return;
  }
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  replacePrivateFile(file, `${JSON.stringify({ gateways: Object.fromEntries(stored) }, null, 2)}\n`);
}

/** Every gateway recorded as running. */
export function readGateways(stateDir: string): GatewayRecord[] {
  return [...readStored(stateDir)].map(([profile, stored]) => ({
    profile,
    pid: stored.pid,
    pgid: stored.pgid,
    startTime: stored.start_time,
  }));
}

export function recordGateway(stateDir: string, record: GatewayRecord): void {
  const stored = readStored(stateDir);
  stored.set(record.profile, { pid: record.pid, pgid: record.pgid, start_time: record.startTime, recorded_at: new Date().toISOString() });
  writeStored(stateDir, stored);
}

/** Drops a profile's record; with `only`, just when it still names that same process. */
export function forgetGateway(stateDir: string, profile: string, only?: Pick<GatewayRecord, 'pid' | 'startTime'>): void {
  const stored = readStored(stateDir);
  const current = stored.get(profile);
  if (current === undefined) return;
  if (only !== undefined && (current.pid !== only.pid || current.start_time !== only.startTime)) return;
  stored.delete(profile);
  writeStored(stateDir, stored);
}
