import type Database from 'better-sqlite3';
import { errorCodeOf, isUnreadableDataError, primarySqliteCode } from './errorcodes.js';

/**
 * Copies the readable rows of one table from a damaged database into a fresh one.
 *
 * A plain scan stops at the first damaged page. Rowid tables are therefore read as ranges: scan from
 * a rowid until the scan fails, then find the next rowid a fresh b-tree seek can read past the
 * damage (doubling the stride, then bisecting back), and scan on from there. Rows on healthy pages
 * are kept whatever the rowid layout, dense or sparse.
 */

export interface TableSalvage {
  recovered: number;
  /** Rows known to exist but not copied; null when the damage hides how many there were. */
  lost: number | null;
  /**
   * True when no index could vouch for the table and `lost` is estimated from its damaged pages
   * (their count times the mean cells of its readable leaves).
   */
  lostEstimated?: true;
}

const MIN_ROWID = -(2n ** 63n);
const MAX_ROWID = 2n ** 63n - 1n;
const ROWID_NAMES = ['rowid', '_rowid_', 'oid'];

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

interface TableShape {
  columns: string[];
  rowidName: string | null;
  withoutRowid: boolean;
}

/** Insertable columns come from the new table: generated and hidden columns take no values. */
function tableShape(target: Database.Database, table: string, virtual: boolean): TableShape {
  const info = target.pragma(`table_xinfo(${quoteIdent(table)})`) as Array<{ name: string; hidden: number }>;
  const columns = info.filter((column) => Number(column.hidden) === 0).map((column) => column.name);
  const listed = target.pragma(`table_list(${quoteIdent(table)})`) as Array<{ wr: number }>;
  const withoutRowid = Number(listed[0]?.wr) === 1;
  const taken = new Set(info.map((column) => column.name.toLowerCase()));
  const rowidName = virtual || withoutRowid ? null : (ROWID_NAMES.find((name) => !taken.has(name)) ?? null);
  return { columns, rowidName, withoutRowid };
}

function isConstraintError(err: unknown): boolean {
  const code = errorCodeOf(err);
  return code !== undefined && primarySqliteCode(code) === 'SQLITE_CONSTRAINT';
}

/**
 * Calls `each` for the rows a source statement yields until the end (true) or the first damaged
 * page (false). Only errors raised by reading the source count as damage; errors from `each`
 * (writes to the new file) propagate. `each` returning false stops early, which counts as the end.
 */
function readEach<T>(rows: IterableIterator<T>, each: (row: T) => boolean | void): boolean {
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = rows.next();
      } catch (err) {
        if (!isUnreadableDataError(err)) throw err;
        return false;
      }
      if (next.done) return true;
      if (each(next.value) === false) return true;
    }
  } finally {
    rows.return?.();
  }
}

/** One source read: the row (or undefined for none), or 'unreadable' when it hit damage. */
function readOne<T>(read: () => T): T | 'unreadable' {
  try {
    return read();
  } catch (err) {
    if (!isUnreadableDataError(err)) throw err;
    return 'unreadable';
  }
}

class RowWriter {
  recovered = 0;
  rejected = 0;
  private readonly insert: Database.Statement;

  constructor(target: Database.Database, table: string, names: readonly string[]) {
    const placeholders = names.map(() => '?').join(', ');
    this.insert = target.prepare(`INSERT INTO main.${quoteIdent(table)} (${names.map(quoteIdent).join(', ')}) VALUES (${placeholders})`);
  }

  /** Rows that break the new table's constraints (damaged values) are counted, not fatal. */
  write(row: unknown[]): boolean {
    try {
      this.insert.run(...row);
      this.recovered += 1;
      return true;
    } catch (err) {
      if (!isConstraintError(err)) throw err;
      this.rejected += 1;
      return false;
    }
  }
}

type ScanOutcome = { ended: true } | { ended: false; resumeAt: bigint; progressed: boolean };

class RowidSalvager {
  private readonly scanFrom: Database.Statement;
  private readonly seek: Database.Statement;
  private readonly pointRead: Database.Statement;
  private readonly inTarget: Database.Statement;
  private readonly writer: RowWriter;
  private unreadable = false;

  constructor(
    private readonly source: Database.Database,
    target: Database.Database,
    private readonly table: string,
    private readonly rowidName: string,
    columns: readonly string[],
  ) {
    const from = `FROM main.${quoteIdent(table)} NOT INDEXED`;
    const rowid = quoteIdent(rowidName);
    const list = [rowid, ...columns.map(quoteIdent)].join(', ');
    this.scanFrom = source.prepare(`SELECT ${list} ${from} WHERE ${rowid} >= ? ORDER BY ${rowid}`).raw(true);
    this.seek = source.prepare(`SELECT ${rowid} ${from} WHERE ${rowid} >= ? ORDER BY ${rowid} LIMIT 1`).raw(true);
    this.pointRead = source.prepare(`SELECT ${list} ${from} WHERE ${rowid} = ?`).raw(true);
    this.inTarget = target.prepare(`SELECT 1 FROM main.${quoteIdent(table)} WHERE ${rowid} = ?`).pluck();
    this.writer = new RowWriter(target, table, [rowidName, ...columns]);
  }

  run(): TableSalvage {
    let from = MIN_ROWID;
    for (;;) {
      const outcome = this.scan(from);
      if (outcome.ended) break;
      this.unreadable = true;
      if (outcome.progressed) {
        from = outcome.resumeAt;
        continue;
      }
      const next = this.nextReadable(outcome.resumeAt);
      if (next === null) break;
      from = next;
    }
    if (!this.unreadable) return { recovered: this.writer.recovered, lost: this.writer.rejected };
    const lost = this.reconcileWithIndexes();
    return lost === null ? estimateLoss(this.source, this.table, this.writer.recovered) : { recovered: this.writer.recovered, lost };
  }

  private scan(from: bigint): ScanOutcome {
    let last: bigint | null = null;
    const ended = readEach(this.scanFrom.iterate(from) as IterableIterator<unknown[]>, (row) => {
      this.writer.write(row);
      last = row[0] as bigint;
    });
    if (ended || last === MAX_ROWID) return { ended: true };
    return { ended: false, resumeAt: last === null ? from : last + 1n, progressed: last !== null };
  }

  /** Whether a b-tree seek to `at` gets past the damage (an empty answer counts: the end is readable). */
  private seekable(at: bigint): boolean {
    return readOne(() => this.seek.get(at)) !== 'unreadable';
  }

  /** Smallest rowid above a failing one from which a seek reads again, or null if none does. */
  private nextReadable(failing: bigint): bigint | null {
    let bad = failing;
    let stride = 1n;
    for (;;) {
      if (bad >= MAX_ROWID) return null;
      const at = bad + stride > MAX_ROWID ? MAX_ROWID : bad + stride;
      if (this.seekable(at)) return this.bisect(bad, at);
      bad = at;
      stride *= 2n;
    }
  }

  private bisect(bad: bigint, good: bigint): bigint {
    let low = bad;
    let high = good;
    while (high - low > 1n) {
      const mid = low + (high - low) / 2n;
      if (this.seekable(mid)) high = mid;
      else low = mid;
    }
    return high;
  }

  /**
   * Every full (non-partial) index lists every rowid. The first index that still reads end to end
   * tells which rows exist; those missing from the copy get one more point read, and what stays
   * missing is known lost. Without a readable index the loss cannot be counted.
   */
  private reconcileWithIndexes(): number | null {
    for (const index of fullIndexes(this.source, this.table)) {
      const rowids = this.source
        .prepare(`SELECT ${quoteIdent(this.rowidName)} FROM main.${quoteIdent(this.table)} INDEXED BY ${quoteIdent(index)}`)
        .pluck();
      const missing: bigint[] = [];
      const complete = readEach(rowids.iterate() as IterableIterator<bigint>, (rowid) => {
        if (this.inTarget.get(rowid) === undefined) missing.push(rowid);
      });
      if (!complete) continue;
      let lost = 0;
      for (const rowid of missing) if (!this.recoverOne(rowid)) lost += 1;
      return lost;
    }
    return null;
  }

  private recoverOne(rowid: bigint): boolean {
    const row = readOne(() => this.pointRead.get(rowid) as unknown[] | undefined);
    return row !== 'unreadable' && row !== undefined && this.writer.write(row);
  }
}

/**
 * Indexes holding one entry per row. A WITHOUT ROWID table's primary-key index is the table itself,
 * so it cannot vouch for the table.
 */
function fullIndexes(source: Database.Database, table: string, withoutRowid = false): string[] {
  // Number(): the source connection reads integers as BigInt.
  const list = source.pragma(`index_list(${quoteIdent(table)})`) as Array<{ name: string; partial: number | bigint; origin: string }>;
  return list.filter((index) => Number(index.partial) === 0 && !(withoutRowid && index.origin === 'pk')).map((index) => index.name);
}

interface KeyColumn {
  name: string;
  desc: boolean;
  coll: string;
}

/** Key columns of a WITHOUT ROWID table, in b-tree order, from its primary-key index. */
function primaryKeyColumns(source: Database.Database, table: string): KeyColumn[] {
  const list = source.pragma(`index_list(${quoteIdent(table)})`) as Array<{ name: string; origin: string }>;
  const pk = list.find((index) => index.origin === 'pk');
  if (!pk) return [];
  const info = source.pragma(`index_xinfo(${quoteIdent(pk.name)})`) as Array<{ name: string | null; desc: number | bigint; coll: string; key: number | bigint }>;
  return info
    .filter((column) => Number(column.key) === 1 && column.name !== null)
    .map((column) => ({ name: column.name!, desc: Number(column.desc) === 1, coll: column.coll }));
}

/**
 * Reads a WITHOUT ROWID table backwards from its last key until it fails or meets a row the forward
 * scan already copied: the rows past the last damaged page.
 */
function salvageTail(source: Database.Database, target: Database.Database, table: string, columns: readonly string[], writer: RowWriter): void {
  const key = primaryKeyColumns(source, table);
  if (key.length === 0) return;
  const order = key.map((column) => `${quoteIdent(column.name)} COLLATE ${quoteIdent(column.coll)} ${column.desc ? 'ASC' : 'DESC'}`).join(', ');
  const positions = key.map((column) => columns.indexOf(column.name));
  if (positions.some((position) => position < 0)) return;
  const copied = target
    .prepare(`SELECT 1 FROM main.${quoteIdent(table)} WHERE ${key.map((column) => `${quoteIdent(column.name)} = ?`).join(' AND ')}`)
    .pluck();
  const scan = source.prepare(`SELECT ${columns.map(quoteIdent).join(', ')} FROM main.${quoteIdent(table)} ORDER BY ${order}`).raw(true);
  readEach(scan.iterate() as IterableIterator<unknown[]>, (row) => {
    if (copied.get(...positions.map((position) => row[position])) !== undefined) return false;
    writer.write(row);
    return true;
  });
}

/**
 * Tables without a reachable rowid (WITHOUT ROWID, virtual, or every rowid name taken by a column)
 * are scanned forwards up to the first damaged page and, for WITHOUT ROWID, backwards to the last;
 * rows between damaged pages cannot be reached by key. A readable index still counts what is missing.
 */
function salvageByScan(source: Database.Database, target: Database.Database, table: string, columns: readonly string[], withoutRowid: boolean): TableSalvage {
  const writer = new RowWriter(target, table, columns);
  const scan = source.prepare(`SELECT ${columns.map(quoteIdent).join(', ')} FROM main.${quoteIdent(table)}`).raw(true);
  if (readEach(scan.iterate() as IterableIterator<unknown[]>, (row) => void writer.write(row))) {
    return { recovered: writer.recovered, lost: writer.rejected };
  }
  if (withoutRowid) salvageTail(source, target, table, columns, writer);
  for (const index of fullIndexes(source, table, withoutRowid)) {
    const count = readOne(() => source.prepare(`SELECT count(*) FROM main.${quoteIdent(table)} INDEXED BY ${quoteIdent(index)}`).pluck().get() as bigint);
    if (count !== 'unreadable') return { recovered: writer.recovered, lost: Math.max(0, Number(count) - writer.recovered) };
  }
  return estimateLoss(source, table, writer.recovered);
}

/**
 * Without an index to count a damaged table's rows, its own b-tree still tells: dbstat lists each of
 * its pages, the damaged ones as 'corrupted', and how many cells each readable leaf holds. Their
 * mean times the damaged pages estimates the rows lost. Null when not even that can be read.
 */
function estimateLoss(source: Database.Database, table: string, recovered: number): TableSalvage {
  const pages = readOne(
    () =>
      source
        .prepare(
          "SELECT sum(pagetype = 'corrupted') AS damaged, sum(pagetype = 'leaf') AS leaves, sum(CASE WHEN pagetype = 'leaf' THEN ncell ELSE 0 END) AS cells FROM dbstat WHERE name = ?",
        )
        .safeIntegers(false)
        .get(table) as { damaged: number | null; leaves: number | null; cells: number | null } | undefined,
  );
  if (pages === 'unreadable' || !pages?.damaged || !pages.leaves) return { recovered, lost: null };
  return { recovered, lost: Math.round((pages.damaged * (pages.cells ?? 0)) / pages.leaves), lostEstimated: true };
}

/** Copies what is readable of `table` (already created in `target`) inside one transaction. */
export function salvageTable(source: Database.Database, target: Database.Database, table: string, virtual: boolean): TableSalvage {
  const shape = tableShape(target, table, virtual);
  const copy = target.transaction((): TableSalvage => {
    if (shape.rowidName === null) return salvageByScan(source, target, table, shape.columns, shape.withoutRowid);
    return new RowidSalvager(source, target, table, shape.rowidName, shape.columns).run();
  });
  return copy();
}
