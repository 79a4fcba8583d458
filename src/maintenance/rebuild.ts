import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errorCodeOf, errorMessageOf, primarySqliteCode } from './errorcodes.js';
import { fsyncDir, fsyncUnheldFile, pathExists } from './fileops.js';
import type { JournalMode } from './header.js';
import { checkLines, classifyCheckRows } from './probe.js';
import { salvageTable, type TableSalvage } from './salvage.js';
import { sidecarPaths } from './sidecars.js';

export type { TableSalvage } from './salvage.js';

export interface RebuildResult {
  tables: Record<string, TableSalvage>;
  /** Schema objects and settings that could not be read or recreated. */
  schemaErrors: string[];
}

interface SchemaEntry {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** Settings that live in the file header; the first three only take effect before any table exists. */
const LAYOUT_PRAGMAS = ['page_size', 'auto_vacuum', 'encoding'] as const;
const STAMP_PRAGMAS = ['user_version', 'application_id'] as const;

function isVirtual(entry: SchemaEntry): boolean {
  return /^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(entry.sql ?? '');
}

/** SQLite's own tables: sqlite_sequence comes with AUTOINCREMENT, sqlite_stat* from ANALYZE. */
function isInternal(name: string): boolean {
  return name.toLowerCase().startsWith('sqlite_');
}

function readPragmas(source: Database.Database, names: readonly string[], errors: string[]): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const name of names) {
    try {
      values.set(name, source.pragma(name, { simple: true }));
    } catch (err) {
      errors.push(`PRAGMA ${name} unreadable: ${errorMessageOf(err)}`);
    }
  }
  return values;
}

function applyPragmas(target: Database.Database, values: Map<string, unknown>, errors: string[]): void {
  for (const [name, value] of values) {
    const literal = typeof value === 'string' ? `'${value.replace(/'/g, "''")}'` : String(value);
    try {
      target.pragma(`${name} = ${literal}`);
    } catch (err) {
      errors.push(`PRAGMA ${name} = ${literal} not applied: ${errorMessageOf(err)}`);
    }
  }
}

function readSchema(source: Database.Database, errors: string[]): SchemaEntry[] {
  try {
    return source.prepare('SELECT type, name, tbl_name, sql FROM main.sqlite_master ORDER BY rowid').safeIntegers(false).all() as SchemaEntry[];
  } catch (err) {
    errors.push(`sqlite_master unreadable, nothing recovered: ${errorMessageOf(err)}`);
    return [];
  }
}

function tableNames(target: Database.Database): Set<string> {
  const rows = target.prepare("SELECT name FROM main.sqlite_master WHERE type = 'table'").pluck().all() as string[];
  return new Set(rows.map((name) => name.toLowerCase()));
}

/**
 * Virtual tables first: creating one creates its shadow tables, whose own entries are then skipped
 * and whose contents are rebuilt by copying rows through the virtual table.
 */
function createTables(target: Database.Database, schema: readonly SchemaEntry[], errors: string[]): Map<string, boolean> {
  const created = new Map<string, boolean>();
  const tables = schema.filter((entry) => entry.type === 'table' && entry.sql !== null && !isInternal(entry.name));
  const ordered = [...tables.filter(isVirtual), ...tables.filter((entry) => !isVirtual(entry))];
  for (const entry of ordered) {
    if (!isVirtual(entry) && tableNames(target).has(entry.name.toLowerCase())) continue;
    try {
      target.exec(entry.sql!);
      created.set(entry.name, isVirtual(entry));
    } catch (err) {
      errors.push(`table ${entry.name}: ${errorMessageOf(err)}`);
    }
  }
  return created;
}

/** AUTOINCREMENT counters may run ahead of the highest surviving rowid; keep the larger value. */
function copySequences(source: Database.Database, target: Database.Database, schema: readonly SchemaEntry[], errors: string[]): void {
  if (!schema.some((entry) => entry.name === 'sqlite_sequence') || !tableNames(target).has('sqlite_sequence')) return;
  try {
    const rows = source.prepare('SELECT name, seq FROM main.sqlite_sequence').raw(true).all() as Array<[string, bigint]>;
    const update = target.prepare('UPDATE main.sqlite_sequence SET seq = max(seq, ?) WHERE name = ?');
    const insert = target.prepare('INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)');
    target.transaction(() => {
      for (const [name, seq] of rows) {
        if (update.run(seq, name).changes === 0) insert.run(name, seq);
      }
    })();
  } catch (err) {
    errors.push(`sqlite_sequence: ${errorMessageOf(err)}`);
  }
}

/**
 * Indexes, triggers and views after the rows, so triggers do not fire on the copy. Objects that
 * depend on one another may be listed out of order; a second pass picks those up.
 */
function createDependents(target: Database.Database, schema: readonly SchemaEntry[], skipTables: ReadonlySet<string>, errors: string[]): void {
  let pending = schema.filter((entry) => entry.type !== 'table' && entry.sql !== null && !skipTables.has(entry.tbl_name.toLowerCase()));
  for (let pass = 0; pass < 2 && pending.length > 0; pass += 1) {
    const failed: Array<{ entry: SchemaEntry; message: string }> = [];
    for (const entry of pending) {
      try {
        target.exec(entry.sql!);
      } catch (err) {
        failed.push({ entry, message: errorMessageOf(err) });
      }
    }
    if (pass === 1 || failed.length === pending.length) {
      for (const { entry, message } of failed) errors.push(`${entry.type} ${entry.name}: ${message}`);
      return;
    }
    pending = failed.map(({ entry }) => entry);
  }
}

/**
 * Damage in the source is absorbed while rows are read, so these can only come from writing the new
 * file (disk full, I/O): the rebuild as a whole has failed.
 */
function isWriteFailure(err: unknown): boolean {
  const code = errorCodeOf(err);
  const primary = code === undefined ? undefined : primarySqliteCode(code);
  return primary === 'SQLITE_FULL' || primary === 'SQLITE_IOERR' || primary === 'SQLITE_NOMEM' || primary === 'SQLITE_READONLY';
}

function salvageInto(source: Database.Database, target: Database.Database, errors: string[]): Map<string, TableSalvage> {
  const tables = new Map<string, TableSalvage>();
  applyPragmas(target, readPragmas(source, LAYOUT_PRAGMAS, errors), errors);
  const schema = readSchema(source, errors);
  const created = createTables(target, schema, errors);
  for (const entry of schema) {
    if (entry.type === 'table' && entry.sql !== null && !isInternal(entry.name) && !created.has(entry.name) && !tableNames(target).has(entry.name.toLowerCase())) {
      tables.set(entry.name, { recovered: 0, lost: null });
    }
  }
  for (const [name, virtual] of created) {
    try {
      tables.set(name, salvageTable(source, target, name, virtual));
    } catch (err) {
      if (isWriteFailure(err)) throw err;
      errors.push(`table ${name}: rows not copied: ${errorMessageOf(err)}`);
      tables.set(name, { recovered: 0, lost: null });
    }
  }
  copySequences(source, target, schema, errors);
  const createdNames = new Set([...created.keys()].map((name) => name.toLowerCase()));
  const shadows = new Set([...tableNames(target)].filter((name) => !createdNames.has(name) && !isInternal(name)));
  createDependents(target, schema, shadows, errors);
  applyPragmas(target, readPragmas(source, STAMP_PRAGMAS, errors), errors);
  return tables;
}

function openSource(corruptPath: string, errors: string[]): Database.Database | undefined {
  try {
    const source = new Database(corruptPath, { readonly: true, fileMustExist: true });
    source.defaultSafeIntegers(true);
    return source;
  } catch (err) {
    errors.push(`cannot open ${corruptPath}: ${errorMessageOf(err)}`);
    return undefined;
  }
}

/** The copy is written fast (no journal fsyncs) and only made durable once complete. */
function openTarget(outPath: string): Database.Database {
  const target = new Database(outPath);
  target.pragma('journal_mode = MEMORY');
  target.pragma('synchronous = OFF');
  target.pragma('foreign_keys = OFF');
  return target;
}

/** The board's own journal mode: a rollback-journal board must not be moved onto WAL behind Hermes's back. */
function finishTarget(target: Database.Database, journal: JournalMode): void {
  const mode = target.pragma(`journal_mode = ${journal.toUpperCase()}`, { simple: true });
  if (mode !== journal) throw new Error(`rebuilt file refused journal_mode ${journal} (journal_mode is ${String(mode)})`);
  const verdict = classifyCheckRows(checkLines(target.pragma('integrity_check') as unknown[]));
  if (verdict.status !== 'ok') throw new Error(`rebuilt file failed integrity_check: ${verdict.detail}`);
}

export interface RebuildOptions {
  /** The new file's journal mode, the damaged board's own; WAL when not given. */
  journal?: JournalMode;
}

/**
 * Salvages everything readable from a damaged database into a new file at `outPath`, which must not
 * exist, in the journal mode asked for. Rows are copied table by table around damaged pages; `lost`
 * counts rows known to exist that could not be read. The new file passes integrity_check and is fsynced.
 */
export function rebuildBoard(corruptPath: string, outPath: string, opts: RebuildOptions = {}): RebuildResult {
  for (const file of [outPath, ...sidecarPaths(outPath)]) {
    if (pathExists(file)) throw new Error(`rebuild target ${file} already exists; the rebuild writes a fresh file`);
  }
  if (!pathExists(corruptPath)) throw new Error(`cannot rebuild ${corruptPath}: it does not exist`);

  const errors: string[] = [];
  const source = openSource(corruptPath, errors);
  let target: Database.Database | undefined;
  try {
    target = openTarget(outPath);
    const tables = source ? salvageInto(source, target, errors) : new Map<string, TableSalvage>();
    finishTarget(target, opts.journal ?? 'wal');
    target.close();
    target = undefined;
    fsyncUnheldFile(outPath);
    fsyncDir(path.dirname(path.resolve(outPath)));
    return { tables: Object.fromEntries(tables), schemaErrors: errors };
  } catch (err) {
    target?.close();
    for (const file of [outPath, ...sidecarPaths(outPath)]) fs.rmSync(file, { force: true });
    throw err;
  } finally {
    source?.close();
  }
}
