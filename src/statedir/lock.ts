import Database from 'better-sqlite3';
import { lockFile } from './layout.js';

/** Held for the supervisor's lifetime; the kernel drops it when the process dies, however it dies. */
export interface InstanceLock {
  readonly file: string;
  release(): void;
}

/** Another process holds the state dir's lock. */
export class StateDirLockedError extends Error {
  constructor(
    readonly stateDir: string,
    readonly file: string,
  ) {
    super(`state dir ${stateDir} is locked by another supervisor (${file})`);
    this.name = 'StateDirLockedError';
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * One supervisor per state dir, whatever happens to the control socket's file: an exclusive lock on
 * `<state_dir>/supervisor.lock`, taken without waiting. SQLite's exclusive locking mode holds a POSIX
 * lock on the file until the connection closes, and the kernel releases it when the process exits,
 * so a supervisor killed with SIGKILL never leaves a stale lock behind. Nothing else in this process
 * opens that file, so no stray close can drop the lock.
 */
export function lockStateDir(stateDir: string): InstanceLock {
  const file = lockFile(stateDir);
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new Error(`cannot open the state dir lock ${file}: ${(err as Error).message}`);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // No journal file: the lock must be taken on a full disk too, so that leftovers can still be reaped.
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if (isBusy(err)) throw new StateDirLockedError(stateDir, file);
    throw new Error(`cannot lock the state dir with ${file}: ${(err as Error).message} (if it is not a file this supervisor made, move it away)`);
  }
  return {
    file,
    release: () => {
      if (db.open) db.close();
    },
  };
}
