import fs from 'node:fs';
import { realBoardPath } from './resolve.js';

/** What makes a board file "the same file": ext4 reuses inode numbers at once, so birthtime is part of it. */
export interface Identity {
  dev: number;
  ino: number;
  /** Milliseconds since the epoch with sub-microsecond fraction; 0 where the filesystem keeps no birthtime. */
  birthtimeMs: number;
}

/** A board file's sidecars, which SQLite finds by name: `-wal`/`-shm` in WAL mode, `-journal` in rollback mode. */
export const SIDECAR_ROLES = ['wal', 'shm', 'journal'] as const;
export type SidecarRole = (typeof SIDECAR_ROLES)[number];

export interface BoardFiles {
  db: string;
  wal: string;
  shm: string;
  journal: string;
}

export interface BoardIdentities {
  db: Identity | null;
  wal: Identity | null;
  shm: Identity | null;
  journal: Identity | null;
}

/**
 * Identity of the file at `path`, following symlinks; null when it does not exist.
 * Only stat is used: opening a board file and closing it would drop SQLite's POSIX locks.
 */
export function readIdentity(path: string): Identity | null {
  let st: fs.BigIntStats | undefined;
  try {
    st = fs.statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
  if (st === undefined) return null;
  // Node reads statx on Linux, so birthtimeNs is the real creation time; the nanoseconds keep two
  // files created within the same millisecond apart.
  return { dev: Number(st.dev), ino: Number(st.ino), birthtimeMs: Number(st.birthtimeNs) / 1e6 };
}

/** Two missing files count as the same (nothing changed); a missing and a present one do not. */
export function sameIdentity(a: Identity | null, b: Identity | null): boolean {
  if (a === null || b === null) return a === b;
  return a.dev === b.dev && a.ino === b.ino && a.birthtimeMs === b.birthtimeMs;
}

/** The key /proc lookups match on: what an open fd or a mapping points at. */
export function fileKey(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

/** The files SQLite uses for the db at `dbPath`: the sidecars' names are made from the path it opens. */
export function boardFiles(dbPath: string): BoardFiles {
  return { db: dbPath, wal: `${dbPath}-wal`, shm: `${dbPath}-shm`, journal: `${dbPath}-journal` };
}

/**
 * Identities of a board and its sidecars. A symlinked board is looked at where SQLite keeps it: the
 * real file, and the sidecars beside that file. `real` is the board's real path when already resolved.
 */
export function readBoardIdentities(dbPath: string, real: string = realBoardPath(dbPath)): BoardIdentities {
  const files = boardFiles(real);
  return { db: readIdentity(files.db), wal: readIdentity(files.wal), shm: readIdentity(files.shm), journal: readIdentity(files.journal) };
}
