import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { errorCodeOf, errorMessageOf, isBusyCode, isCorruptCode, primarySqliteCode } from './errorcodes.js';

export type ProbeStatus = 'ok' | 'corrupt' | 'busy' | 'missing' | 'error';

export interface ProbeOptions {
  /** `PRAGMA integrity_check` (O(N log N)) instead of `quick_check` (O(N)). */
  full?: boolean;
  busyTimeoutMs?: number;
}

export interface ProbeResult {
  status: ProbeStatus;
  detail: string;
  durationMs: number;
  code?: string;
  /** The journal mode the probe's connection found the file in; absent when it could not tell. */
  journalMode?: string;
}

export interface ProbeVerdict {
  status: ProbeStatus;
  detail: string;
  code?: string;
}

export const DEFAULT_PROBE_BUSY_TIMEOUT_MS = 2000;
const DETAIL_LINES = 5;

/**
 * Why a probe could not complete. Lock contention (every BUSY/LOCKED variant) is never read as
 * damage: a gateway mid-write or mid-recovery must not trigger a quarantine.
 */
export function classifyProbeError(err: unknown): ProbeVerdict {
  const code = errorCodeOf(err);
  const message = errorMessageOf(err);
  const withCode = (status: ProbeStatus, detail: string): ProbeVerdict =>
    code === undefined ? { status, detail } : { status, detail, code };
  if (code === 'ENOENT') return withCode('missing', message);
  if (isBusyCode(code)) return withCode('busy', message);
  if (isCorruptCode(code)) return withCode('corrupt', message);
  if (code === 'SQLITE_READONLY_DIRECTORY' || (code !== undefined && primarySqliteCode(code) === 'SQLITE_CANTOPEN')) {
    // A read-only connection to a WAL board needs its -shm/-wal, or a writable directory to
    // create them; failing that says nothing about the bytes of the file.
    return withCode('error', `${message} (read-only open of a WAL board needs its -shm/-wal or a writable directory; not a sign of corruption)`);
  }
  if (code === 'SQLITE_READONLY_RECOVERY' || code === 'SQLITE_READONLY_CANTINIT') {
    return withCode('error', `${message} (the WAL index needs a writer to initialise or recover it; not a sign of corruption)`);
  }
  return withCode('error', message);
}

/** `quick_check`/`integrity_check` report health as exactly one row reading `ok`. */
export function classifyCheckRows(lines: readonly string[]): ProbeVerdict {
  if (lines.length === 1 && lines[0] === 'ok') return { status: 'ok', detail: 'ok' };
  if (lines.length === 0) return { status: 'corrupt', detail: 'check returned no rows' };
  const shown = lines.slice(0, DETAIL_LINES).join('; ');
  const more = lines.length > DETAIL_LINES ? ` (+${lines.length - DETAIL_LINES} more)` : '';
  return { status: 'corrupt', detail: shown + more };
}

export function checkLines(rows: readonly unknown[]): string[] {
  return rows.map((row) => String(Object.values(row as Record<string, unknown>)[0]));
}

/**
 * The file's journal mode as the open connection sees it. SQLite puts a connection in WAL mode when
 * header bytes 18/19 say 2/2, so `wal` is read from the file itself; a rollback file leaves the
 * connection in its default rollback mode (`delete`), the only one a file can name. An empty file
 * names none. Undefined when the connection cannot say: the verdict never depends on it.
 */
function journalModeOf(db: Database.Database): string | undefined {
  try {
    if (db.pragma('page_count', { simple: true }) === 0) return undefined;
    const mode = db.pragma('journal_mode', { simple: true });
    return typeof mode === 'string' ? mode.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

function fileExists(file: string): boolean {
  return fs.statSync(file, { throwIfNoEntry: false }) !== undefined;
}

/** Checks a board on a short-lived read-only connection; the connection is always closed. */
export function probeIntegrity(dbPath: string, opts: ProbeOptions = {}): ProbeResult {
  const started = performance.now();
  const finish = (verdict: ProbeVerdict): ProbeResult => ({ ...verdict, durationMs: performance.now() - started });
  if (!fileExists(dbPath)) return finish({ status: 'missing', detail: `${dbPath} does not exist`, code: 'ENOENT' });
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, {
      readonly: true,
      fileMustExist: true,
      timeout: opts.busyTimeoutMs ?? DEFAULT_PROBE_BUSY_TIMEOUT_MS,
    });
    const rows = db.pragma(opts.full ? 'integrity_check' : 'quick_check') as unknown[];
    const journalMode = journalModeOf(db);
    return finish({ ...classifyCheckRows(checkLines(rows)), ...(journalMode === undefined ? {} : { journalMode }) });
  } catch (err) {
    const verdict = classifyProbeError(err);
    if (verdict.status === 'error' && !fileExists(dbPath)) {
      return finish({ status: 'missing', detail: `${dbPath} disappeared during the probe`, code: 'ENOENT' });
    }
    return finish(verdict);
  } finally {
    db?.close();
  }
}
