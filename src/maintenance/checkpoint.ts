import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { realBoardPath } from '../board/index.js';

export interface CheckpointResult {
  /** 1 when a connection kept the checkpoint from finishing. */
  busy: number;
  /** Frames in the WAL; -1 when the database is not in WAL mode. */
  logFrames: number;
  /** Frames copied back into the db; -1 when the database is not in WAL mode. */
  checkpointed: number;
  durationMs: number;
}

export const DEFAULT_CHECKPOINT_BUSY_TIMEOUT_MS = 2000;

/**
 * A PASSIVE checkpoint on a short-lived connection: it copies what no reader still needs and never
 * waits on or blocks gateways. FULL/RESTART/TRUNCATE wait for readers and writers, so they are not
 * offered here.
 */
export function passiveCheckpoint(dbPath: string, opts: { busyTimeoutMs?: number } = {}): CheckpointResult {
  const started = performance.now();
  const db = new Database(dbPath, { fileMustExist: true, timeout: opts.busyTimeoutMs ?? DEFAULT_CHECKPOINT_BUSY_TIMEOUT_MS });
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (!row) throw new Error(`wal_checkpoint on ${dbPath} returned no row`);
    return { busy: row.busy, logFrames: row.log, checkpointed: row.checkpointed, durationMs: performance.now() - started };
  } finally {
    db.close();
  }
}

/**
 * Size of a board's WAL (beside its real file) by stat (no fd is opened); 0 when there is none. A
 * caller that already knows the real file passes it, sparing a readlink per path component.
 */
export function walSize(dbPath: string, realPath: string = realBoardPath(dbPath)): number {
  return fs.statSync(`${realPath}-wal`, { throwIfNoEntry: false })?.size ?? 0;
}

/** Whether the WAL has outgrown its limit; a non-positive limit turns the check off. */
export function walNeedsCheckpoint(walSizeBytes: number, limitBytes: number): boolean {
  return limitBytes > 0 && walSizeBytes > limitBytes;
}
