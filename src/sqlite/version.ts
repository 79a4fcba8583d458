/**
 * Which SQLite a library file carries, and whether that SQLite has the WAL-reset bug. Pure: the
 * bytes are read elsewhere, chunk by chunk.
 */

export type SqliteVersion = readonly [number, number, number];

/** `3.40.1` (or `3.40.1.2`, a patch release) as a version; null for anything else. */
export function parseSqliteVersion(text: string): SqliteVersion | null {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:\.\d+)?$/.exec(text.trim());
  if (match === null) return null;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

const before = (a: SqliteVersion, b: SqliteVersion): boolean => a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];

/**
 * SQLite's WAL-reset bug (https://sqlite.org/wal.html#walresetbug): every version from 3.7.0 (the
 * first with WAL) up to 3.51.2; fixed in 3.51.3, and in the 3.50.7 and 3.44.6 backports (and the
 * later patch releases of those two lines). The rule Hermes applies before it lets a board use WAL.
 */
export function isWalResetVulnerable(version: SqliteVersion): boolean {
  if (before(version, [3, 7, 0]) || !before(version, [3, 51, 3])) return false;
  const inLine = (from: SqliteVersion, next: SqliteVersion) => !before(version, from) && before(version, next);
  return !(inLine([3, 50, 7], [3, 51, 0]) || inLine([3, 44, 6], [3, 45, 0]));
}

/**
 * Two strings SQLite compiles into every build: SQLITE_SOURCE_ID (`YYYY-MM-DD HH:MM:SS <hash>`, the
 * hash's tail `alt1` when the source was patched) and SQLITE_VERSION (`3.40.1`). Each sits in the
 * read-only data as a NUL-terminated string of its own, so it follows a byte that is not printable
 * text; FTS5 keeps a copy of the source id behind `fts5: `, which that rule leaves out.
 */
const SOURCE_ID = /(?<![\x20-\x7e])\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [0-9a-zA-Z]{40,64}(?=\0)/g;
const VERSION = /(?<![\x20-\x7e])3\.\d{1,3}\.\d{1,3}(?:\.\d{1,3})?(?=\0)/g;

/** The longest string looked for, with its terminator: chunks overlap by more, so none is cut in two. */
export const SCAN_OVERLAP = 128;

/** How far from the source id the version string may sit: the two are compiled side by side. */
const MAX_DISTANCE = 64 * 1024;

export interface Candidates {
  sourceIds: Map<number, string>;
  versions: Map<number, string>;
}

export const noCandidates = (): Candidates => ({ sourceIds: new Map(), versions: new Map() });

/**
 * Collects the strings of one chunk (latin1 text starting at file offset `base`). A chunk after the
 * first starts inside the previous one's overlap: a string at its very start was either seen whole
 * there, or is the tail of a longer one, so it is skipped.
 */
export function scanChunk(text: string, base: number, found: Candidates): void {
  for (const [pattern, into] of [[SOURCE_ID, found.sourceIds], [VERSION, found.versions]] as const) {
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      if (match.index === 0 && base > 0) continue;
      into.set(base + match.index, match[0]);
    }
  }
}

export interface LibraryVersion {
  /** `3.40.1`; null when the file has SQLite's source id but no version string beside it. */
  version: string | null;
  sourceId: string;
}

/** The SQLite a file carries: its source id, and the version string nearest to it; null when the file holds no SQLite. */
export function pickVersion(found: Candidates): LibraryVersion | null {
  const first = [...found.sourceIds].sort((a, b) => a[0] - b[0])[0];
  if (first === undefined) return null;
  const [at, sourceId] = first;
  let best: { distance: number; version: string } | null = null;
  for (const [offset, version] of found.versions) {
    const distance = Math.abs(offset - at);
    if (distance <= MAX_DISTANCE && (best === null || distance < best.distance)) best = { distance, version };
  }
  return { version: best?.version ?? null, sourceId };
}
