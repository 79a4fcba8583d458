import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fixture, python } from './fixture.js';

/** Creates a board the way `hermes kanban init` does, at `file`: in WAL mode, or rollback (DELETE) as Hermes does on an SQLite with the WAL-reset bug. */
export function initBoard(file: string, journal: 'wal' | 'delete' = 'wal'): void {
  mkdirSync(path.dirname(file), { recursive: true });
  execFileSync(python, [fixture, '--mode', 'init', '--journal', journal, '--db', file]);
}

export function integrityCheck(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (db.pragma('integrity_check', { simple: true }) as string) ?? 'no result';
  } finally {
    db.close();
  }
}

/** A consistent copy of a live board through SQLite's backup API (never cp). */
export async function backupBoard(board: string, destination: string): Promise<void> {
  const db = new Database(board, { readonly: true, timeout: 5000 });
  try {
    await db.backup(destination);
  } finally {
    db.close();
  }
}

/** The ways an operator replaces a board file; each returns when (epoch ms) the old file left the path. */
export const swaps = {
  /** rm kanban.db* then a fresh init at the same path. */
  rmRecreate(board: string): number {
    const at = Date.now();
    for (const suffix of ['', '-wal', '-shm']) rmSync(board + suffix, { force: true });
    initBoard(board);
    return at;
  },
  /** A new file prepared beside it and renamed over it (old sidecars stay behind by name). */
  renameOver(board: string): number {
    initBoard(`${board}.new`);
    const at = Date.now();
    renameSync(`${board}.new`, board);
    return at;
  },
  /** A backup (made earlier with the backup API) renamed back into place. */
  restore(board: string, backup: string): number {
    const at = Date.now();
    renameSync(backup, board);
    return at;
  },
};

/** Fills task_events with rows big enough to span many pages, all checkpointed into the db file. */
export function seed(board: string, rows: number, journal: 'wal' | 'delete' = 'wal'): void {
  initBoard(board, journal);
  const db = new Database(board);
  const insert = db.prepare('INSERT INTO task_events (task_id, kind, payload, created_at) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`t${i}`, 'seed', 'x'.repeat(300), i);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Overwrites whole pages in the middle of the file with garbage, as a bad disk or a stray writer would. */
export function corruptPages(board: string, firstPage: number, count: number): void {
  const fd = openSync(board, 'r+');
  try {
    writeSync(fd, randomBytes(4096 * count), 0, 4096 * count, 4096 * (firstPage - 1));
  } finally {
    closeSync(fd);
  }
}
