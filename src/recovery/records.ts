import fs from 'node:fs';
import { GROUP_KINDS, type GroupKind } from '../proc/index.js';
import { recordsFile } from '../statedir/index.js';
import { readPrivateFile, replacePrivateFile } from '../trust/index.js';

/** A process group the supervisor started; pid plus start time names its leader for good. */
export interface GroupRecord {
  kind: GroupKind;
  /** The profile of a gateway, the hook's name, the board of an init. */
  name: string;
  pid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat when the leader was recorded. */
  startTime: number;
}

/** A running gateway as the supervisor started it. */
export interface GatewayRecord {
  profile: string;
  pid: number;
  pgid: number;
  startTime: number;
}

interface StoredRecord {
  kind?: GroupKind;
  name?: string;
  pid: number;
  pgid: number;
  start_time: number;
  recorded_at: string;
}

/**
 * `<state_dir>/gateways.json`: what a supervisor that died without stopping them left running.
 * Gateways stay under `gateways` keyed by profile (as older versions wrote and read them); hooks
 * and inits are under `groups`, keyed by kind and pid, as several may run at once.
 */
export const gatewaysFile = recordsFile;

const isPositiveInteger = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

// Keyed in Maps: a profile name is data, and on a plain object "__proto__" is not.
interface Stored {
  gateways: Map<string, StoredRecord>;
  groups: Map<string, StoredRecord>;
}

const groupKey = (record: Pick<GroupRecord, 'kind' | 'pid'>): string => `${record.kind}:${record.pid}`;

function validEntries(section: unknown, kindOf: (entry: Partial<StoredRecord>) => GroupKind | undefined): Map<string, StoredRecord> {
  const entries = new Map<string, StoredRecord>();
  if (typeof section !== 'object' || section === null) return entries;
  for (const [key, entry] of Object.entries(section)) {
    const candidate = entry as Partial<StoredRecord> | null;
    if (!candidate || !isPositiveInteger(candidate.pid) || !isPositiveInteger(candidate.pgid) || !isCount(candidate.start_time)) continue;
    const kind = kindOf(candidate);
    if (kind === undefined) continue;
    entries.set(key, {
      kind,
      name: typeof candidate.name === 'string' ? candidate.name : key,
      pid: candidate.pid,
      pgid: candidate.pgid,
      start_time: candidate.start_time,
      recorded_at: String(candidate.recorded_at ?? ''),
    });
  }
  return entries;
}

/** The valid entries on disk; a missing or unparsable file has none, an invalid entry is skipped. */
function readStored(stateDir: string): Stored {
  let parsed: { gateways?: unknown; groups?: unknown } | null;
  try {
    parsed = JSON.parse(readPrivateFile(gatewaysFile(stateDir))) as { gateways?: unknown; groups?: unknown } | null;
  } catch {
    parsed = null;
  }
  return {
    gateways: validEntries(parsed?.gateways, () => 'gateway'),
    groups: validEntries(parsed?.groups, (entry) => (GROUP_KINDS.includes(entry.kind as GroupKind) && entry.kind !== 'gateway' ? entry.kind : undefined)),
  };
}

const withoutKind = ({ pid, pgid, start_time, recorded_at }: StoredRecord) => ({ pid, pgid, start_time, recorded_at });

/**
 * Replaces the file in one step (temp file, fsync, rename), so a supervisor killed mid-write leaves
 * the old records or the new ones, never half of either. No records removes the file.
 */
function writeStored(stateDir: string, stored: Stored): void {
  const file = gatewaysFile(stateDir);
  if (stored.gateways.size === 0 && stored.groups.size === 0) {
    fs.rmSync(file, { force: true });
    return;
  }
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const gateways = Object.fromEntries([...stored.gateways].map(([profile, record]) => [profile, withoutKind(record)]));
  const content = stored.groups.size === 0 ? { gateways } : { gateways, groups: Object.fromEntries(stored.groups) };
  replacePrivateFile(file, `${JSON.stringify(content, null, 2)}\n`);
}

const toGroup = (stored: StoredRecord): GroupRecord => ({
  kind: stored.kind ?? 'gateway',
  name: stored.name ?? '',
  pid: stored.pid,
  pgid: stored.pgid,
  startTime: stored.start_time,
});

/** Every process group recorded as running: gateways first, then hooks and inits. */
export function readGroups(stateDir: string): GroupRecord[] {
  const stored = readStored(stateDir);
  return [...stored.gateways.values(), ...stored.groups.values()].map(toGroup);
}

/** Every gateway recorded as running. */
export function readGateways(stateDir: string): GatewayRecord[] {
  return readGroups(stateDir)
    .filter((record) => record.kind === 'gateway')
    .map(({ name, pid, pgid, startTime }) => ({ profile: name, pid, pgid, startTime }));
}

export function recordGroup(stateDir: string, record: GroupRecord): void {
  const stored = readStored(stateDir);
  const entry: StoredRecord = { kind: record.kind, name: record.name, pid: record.pid, pgid: record.pgid, start_time: record.startTime, recorded_at: new Date().toISOString() };
  if (record.kind === 'gateway') stored.gateways.set(record.name, entry);
  else stored.groups.set(groupKey(record), entry);
  writeStored(stateDir, stored);
}

/** Drops a record when it still names that same process. */
export function forgetGroup(stateDir: string, record: Pick<GroupRecord, 'kind' | 'name' | 'pid' | 'startTime'>): void {
  if (record.kind === 'gateway') {
    forgetGateway(stateDir, record.name, record);
    return;
  }
  const stored = readStored(stateDir);
  const current = stored.groups.get(groupKey(record));
  if (current === undefined || current.start_time !== record.startTime) return;
  stored.groups.delete(groupKey(record));
  writeStored(stateDir, stored);
}

export function recordGateway(stateDir: string, record: GatewayRecord): void {
  recordGroup(stateDir, { kind: 'gateway', name: record.profile, pid: record.pid, pgid: record.pgid, startTime: record.startTime });
}

/** Drops a profile's record; with `only`, just when it still names that same process. */
export function forgetGateway(stateDir: string, profile: string, only?: Pick<GatewayRecord, 'pid' | 'startTime'>): void {
  const stored = readStored(stateDir);
  const current = stored.gateways.get(profile);
  if (current === undefined) return;
  if (only !== undefined && (current.pid !== only.pid || current.start_time !== only.startTime)) return;
  stored.gateways.delete(profile);
  writeStored(stateDir, stored);
}
