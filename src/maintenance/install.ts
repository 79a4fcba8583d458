import path from 'node:path';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { realBoardPath } from '../board/index.js';
import { fsyncDir, fsyncUnheldFile, pathExists } from './fileops.js';
import type { JournalMode } from './header.js';
import { sidecarPaths } from './sidecars.js';

/**
 * Puts the new file in the board's journal mode, folds any WAL into it and closes cleanly, so it is
 * installed as one self-contained file: a sidecar left behind would not follow it through the rename.
 */
function settleIntoSingleFile(newPath: string, journal: JournalMode): void {
  const db = new Database(newPath, { fileMustExist: true });
  try {
    if (db.pragma('journal_mode', { simple: true }) !== journal) {
      const mode = db.pragma(`journal_mode = ${journal.toUpperCase()}`, { simple: true });
      if (mode !== journal) throw new Error(`${newPath} refused journal_mode ${journal} (journal_mode is ${String(mode)})`);
    }
    if (journal === 'wal') db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  const left = sidecarPaths(newPath).filter(pathExists);
  if (left.length > 0) throw new Error(`${newPath} still has ${left.join(', ')} after checkpoint and close; is another connection open on it?`);
}

/**
 * Atomically replaces the board at `dbPath` with `newPath` (same directory, so rename(2) is atomic)
 * in the journal mode given (WAL when not given), and makes the rename durable. A symlinked board's
 * real file is replaced, never the link: `newPath` must then sit beside the real file. The old board's
 * -wal/-shm/-journal must already be moved aside (moveAsideSidecars): SQLite would pair them with the
 * new file by name.
 */
export function installRebuilt(newPath: string, dbPath: string, opts: { journal?: JournalMode } = {}): void {
  const source = realBoardPath(newPath);
  const destination = realBoardPath(dbPath);
  const dir = path.dirname(destination);
  if (path.dirname(source) !== dir) throw new Error(`${source} must be in ${dir} to be installed over ${destination} atomically`);
  if (!fs.statSync(source, { throwIfNoEntry: false })?.isFile()) throw new Error(`${source} is not a file`);
  const stale = sidecarPaths(destination).filter(pathExists);
  if (stale.length > 0) throw new Error(`move ${stale.join(', ')} aside before installing over ${destination}: SQLite would pair them with the new file`);

  settleIntoSingleFile(source, opts.journal ?? 'wal');
  fsyncUnheldFile(source);
  fs.renameSync(source, destination);
  fsyncDir(dir);
}
