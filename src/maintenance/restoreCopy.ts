import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errorMessageOf } from './errorcodes.js';
import { fsyncDir, fsyncUnheldFile, pathExists } from './fileops.js';
import { sidecarPaths } from './sidecars.js';

export interface RestoreCopy {
  /** Tables in the copy, SQLite's own left out. */
  tables: number;
}

/**
 * Copies the database at `source` to `target` (which must not exist) through SQLite's online backup,
 * never byte by byte: a source still in use, or with a WAL beside it, is copied as one consistent
 * snapshot. The copy is fsynced; on any failure nothing is left at `target`.
 */
export async function copyForRestore(source: string, target: string): Promise<RestoreCopy> {
  for (const file of [target, ...sidecarPaths(target)]) {
    if (pathExists(file)) throw new Error(`restore target ${file} already exists`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true });
    await db.backup(target);
    db.close();
    db = undefined;
    const copy = new Database(target, { fileMustExist: true });
    let tables: number;
    try {
      tables = copy.prepare("SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").pluck().get() as number;
    } finally {
      copy.close();
    }
    fsyncUnheldFile(target);
    fsyncDir(path.dirname(path.resolve(target)));
    return { tables };
  } catch (err) {
    db?.close();
    for (const file of [target, ...sidecarPaths(target)]) fs.rmSync(file, { force: true });
    throw new Error(`cannot copy ${source}: ${errorMessageOf(err)}`);
  }
}
