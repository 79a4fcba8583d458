/**
 * What the first 100 bytes of a board file say (https://www.sqlite.org/fileformat2.html): whether it
 * is an SQLite database at all, and whether it is in WAL or rollback-journal mode. Pure: the bytes
 * are read elsewhere.
 */

/** The database header's length. */
export const HEADER_BYTES = 100;

/** The 16-byte magic string every SQLite 3 database begins with. */
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** How many bytes of a foreign file's start are shown: enough to recognise it, too few to leak much. */
const SHOWN_BYTES = 16;

/** The journal modes a board keeps through a rebuild: rollback (DELETE) or WAL. */
export type JournalMode = 'delete' | 'wal';

export type BoardHeader =
  /** Zero bytes: SQLite reads an empty file as an empty database, and Hermes creates its tables in it. */
  | { kind: 'empty' }
  | { kind: 'sqlite'; journal: JournalMode | null; versions: [number, number] | null }
  | { kind: 'not_sqlite'; prefix: string };

/**
 * The start of a foreign file as printable ASCII, at most SHOWN_BYTES of it: other bytes, the quote
 * and the backslash are escaped, so the text stays on one line and cannot drive a terminal.
 */
export function shownPrefix(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes.subarray(0, SHOWN_BYTES)) {
    if (byte === 0x27 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else text += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return text;
}

/**
 * Header bytes 18 and 19 (file format write and read versions): 1 for a rollback journal, 2 for WAL.
 * Any other pair leaves the mode unknown.
 */
function journalOf(versions: [number, number] | null): JournalMode | null {
  if (versions === null) return null;
  if (versions[0] === 1 && versions[1] === 1) return 'delete';
  if (versions[0] === 2 && versions[1] === 2) return 'wal';
  return null;
}

export function parseHeader(bytes: Uint8Array): BoardHeader {
  if (bytes.length === 0) return { kind: 'empty' };
  const start = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, MAGIC.length));
  if (!start.equals(MAGIC)) return { kind: 'not_sqlite', prefix: shownPrefix(bytes) };
  const versions: [number, number] | null = bytes.length >= 20 ? [bytes[18]!, bytes[19]!] : null;
  return { kind: 'sqlite', journal: journalOf(versions), versions };
}

export function notSqliteReason(prefix: string): string {
  return `not an SQLite database: header starts with '${prefix}'`;
}

export interface JournalChoice {
  mode: JournalMode;
  /** Why the mode is the default rather than the one the header named; absent when read from it. */
  note?: string;
}

/** The journal mode a rebuilt board gets: the old file's, or WAL (the mode before headers were read) when the header does not say. */
export function journalFor(header: BoardHeader): JournalChoice {
  if (header.kind === 'sqlite' && header.journal !== null) return { mode: header.journal };
  const found = header.kind !== 'sqlite' ? 'no SQLite header' : header.versions === null ? 'a header too short for bytes 18/19' : `header bytes 18/19 = ${header.versions[0]}/${header.versions[1]}`;
  return { mode: 'wal', note: `${found}, not 1/1 (rollback journal) or 2/2 (WAL); WAL by default` };
}
