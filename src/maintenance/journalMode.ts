import Database from 'better-sqlite3';
import type { JournalMode } from './header.js';

/** How long the switch waits for a lock: every holder is stopped first, so a wait means one is left. */
const SWITCH_BUSY_TIMEOUT_MS = 5000;

/**
 * Sets a board's journal mode on a short-lived connection and returns the mode SQLite reports after
 * it. Leaving WAL needs the only connection to the file (SQLite checkpoints the WAL into the file and
 * removes it); the caller has every holder stopped first.
 */
export function setJournalMode(dbPath: string, mode: JournalMode): string {
  const db = new Database(dbPath, { fileMustExist: true, timeout: SWITCH_BUSY_TIMEOUT_MS });
  try {
    return String(db.pragma(`journal_mode = ${mode.toUpperCase()}`, { simple: true })).toLowerCase();
  } finally {
    db.close();
  }
}
