/**
 * SQLite result codes as better-sqlite3 reports them, e.g. `SQLITE_BUSY` or the extended
 * `SQLITE_BUSY_SNAPSHOT`. Extended codes share their primary code's first two segments.
 */
export function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function primarySqliteCode(code: string): string | undefined {
  const match = /^SQLITE_[A-Z]+/.exec(code);
  return match?.[0];
}

export function errorMessageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Contention with another connection: retry later, never evidence of damage. */
export function isBusyCode(code: string | undefined): boolean {
  const primary = code === undefined ? undefined : primarySqliteCode(code);
  return primary === 'SQLITE_BUSY' || primary === 'SQLITE_LOCKED';
}

/** The file's bytes are not a valid database image. */
export function isCorruptCode(code: string | undefined): boolean {
  const primary = code === undefined ? undefined : primarySqliteCode(code);
  return primary === 'SQLITE_CORRUPT' || primary === 'SQLITE_NOTADB';
}

/**
 * Errors a read of damaged pages can raise. Beyond CORRUPT/NOTADB, garbage record headers can claim
 * absurd sizes (TOOBIG, NOMEM) and truncated files give short reads (IOERR).
 */
export function isUnreadableDataError(err: unknown): boolean {
  const code = errorCodeOf(err);
  if (code === undefined) return false;
  if (isCorruptCode(code)) return true;
  const primary = primarySqliteCode(code);
  return primary === 'SQLITE_IOERR' || primary === 'SQLITE_TOOBIG' || primary === 'SQLITE_NOMEM' || primary === 'SQLITE_FORMAT';
}
