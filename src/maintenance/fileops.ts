import fs from 'node:fs';

/**
 * File-system steps that are safe on board paths: stat, rename, unlink and mkdir open no fd on the
 * file. The fsync helpers do open one, so they are only for files no connection in this process
 * holds (a freshly built db before it is installed) and for directories.
 */

export function pathExists(file: string): boolean {
  return fs.lstatSync(file, { throwIfNoEntry: false }) !== undefined;
}

export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

function fsyncByPath(target: string): void {
  const fd = fs.openSync(target, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a file this process holds no SQLite connection or lock on. */
export function fsyncUnheldFile(file: string): void {
  fsyncByPath(file);
}

/** Makes a rename or a new entry in `dir` durable. */
export function fsyncDir(dir: string): void {
  fsyncByPath(dir);
}
