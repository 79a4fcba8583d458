import fs from 'node:fs';
import { instanceFile } from './layout.js';
import { readPrivateFile, replacePrivateFile } from '../trust/index.js';

/** Who runs in a state dir and where to reach it: read by the CLI when the config no longer says. */
export interface InstanceRecord {
  pid: number;
  started_at: string;
  config: string;
  socket: string;
}

/** Written whole or not at all (temp file + rename), private to the user. */
export function writeInstanceRecord(stateDir: string, record: InstanceRecord): void {
  replacePrivateFile(instanceFile(stateDir), `${JSON.stringify(record)}\n`);
}

/** The record, or null when there is none or it is not one. */
export function readInstanceRecord(stateDir: string): InstanceRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(readPrivateFile(instanceFile(stateDir)));
  } catch {
    return null;
  }
  const record = value as Partial<InstanceRecord> | null;
  if (
    typeof record?.pid !== 'number' ||
    typeof record.socket !== 'string' ||
    typeof record.started_at !== 'string' ||
    typeof record.config !== 'string'
  ) {
    return null;
  }
  return record as InstanceRecord;
}

/** Removes the record if it is still this process's. */
export function removeInstanceRecord(stateDir: string, pid: number): void {
  if (readInstanceRecord(stateDir)?.pid !== pid) return;
  fs.rmSync(instanceFile(stateDir), { force: true });
}
