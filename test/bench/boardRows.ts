// What a board holds, read back after a swap: which acknowledged writes its rows are, and whether
// any of them were acknowledged into another file.
import Database from 'better-sqlite3';
import type { GatewayEvent } from '../helpers/gatewayLog.js';
import { integrityCheck } from '../helpers/board.js';
import { sameFile, writeKeys, type FileId } from './writeAnalysis.js';

/** The writes present in the board, as `pid:seq` from each row's payload. */
export function rowsInBoard(board: string): Set<string> {
  const db = new Database(board, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    const rows = db.prepare('SELECT payload FROM task_events').all() as Array<{ payload: string }>;
    return new Set(
      rows.map((row) => {
        const { pid, seq } = JSON.parse(row.payload) as { pid: number; seq: number };
        return `${pid}:${seq}`;
      }),
    );
  } finally {
    db.close();
  }
}

/** The value, or the error's message when reading failed (an unreadable board is a result too). */
export function safely<T>(read: () => T): T | string {
  try {
    return read();
  } catch (error) {
    return (error as Error).message;
  }
}

export interface NewFileCheck {
  integrity: string;
  /** Rows in the new file that were acknowledged into another file (null: rows unreadable). */
  old_rows: number | null;
}

/**
 * integrity_check of the file now at `board` (identity `current`), and how many of its rows the
 * gateways' logs say were acknowledged into another file: carried over by a sidecar found by name
 * (an old -wal, or a hot -journal rolled into the new file). 0 expected; integrity_check cannot
 * see these, as both files have the same schema.
 */
export function checkNewFile(board: string, current: FileId, logs: GatewayEvent[][]): NewFileCheck {
  const elsewhere = new Set<string>();
  for (const log of logs) for (const [write, key] of writeKeys(log)) if (!sameFile(write, current)) elsewhere.add(key);
  const rows = safely(() => rowsInBoard(board));
  return {
    integrity: safely(() => integrityCheck(board)),
    old_rows: typeof rows === 'string' ? null : [...rows].filter((key) => elsewhere.has(key)).length,
  };
}
