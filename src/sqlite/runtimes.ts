import { readProcStat } from '../board/index.js';
import { readLibraryVersion } from './library.js';
import { mappedLibraries, type MappedLibrary } from './mapped.js';
import { isWalResetVulnerable, parseSqliteVersion } from './version.js';

/** One SQLite a process has mapped. `version` is null when the file could not be read or names none. */
export interface SqliteLibrary {
  library: string;
  version: string | null;
  error?: string;
}

export interface ProcessSqlite {
  pid: number;
  libraries: SqliteLibrary[];
  /** Some SQLite it has mapped has the WAL-reset bug; null when none of their versions is known. */
  vulnerable: boolean | null;
}

/** The verdict over every SQLite a process has mapped: which one serves the board is not known, so any vulnerable one counts. */
export function verdictOf(libraries: readonly SqliteLibrary[]): boolean | null {
  const versions = libraries.flatMap((entry) => {
    const version = entry.version === null ? null : parseSqliteVersion(entry.version);
    return version === null ? [] : [version];
  });
  if (versions.length === 0) return null;
  return versions.some(isWalResetVulnerable);
}

/** How many processes are remembered: more holders than this only means some are looked at again. */
const MAX_PROCESSES = 4096;

/**
 * Which SQLite each process runs, found in /proc/<pid>/maps and read from the mapped file itself.
 * A library is read once per (dev, ino): every gateway of a fleet maps the same one. A process is
 * looked at once per start (its pid and start time): the SQLite it loaded does not change.
 */
export class SqliteRuntimes {
  private readonly libraries = new Map<string, Promise<SqliteLibrary>>();
  private readonly processes = new Map<number, { startTime: number; result: Promise<ProcessSqlite>; settled: ProcessSqlite | null }>();

  /** The SQLite of a process, read now or remembered; null when the process is gone. */
  of(pid: number): Promise<ProcessSqlite> | null {
    const startTime = readProcStat(pid)?.startTime;
    if (startTime === undefined) return null;
    const known = this.processes.get(pid);
    if (known?.startTime === startTime) return known.result;
    const libraries = mappedLibraries(pid);
    if (libraries === null) return null;
    // Nothing mapped yet (SQLite is loaded on first use): looked at again next time.
    if (libraries.length === 0) return Promise.resolve({ pid, libraries: [], vulnerable: null });
    if (this.processes.size >= MAX_PROCESSES) this.processes.clear();
    const entry = { startTime, result: this.read(pid, libraries), settled: null as ProcessSqlite | null };
    void entry.result.then((settled) => (entry.settled = settled));
    this.processes.set(pid, entry);
    return entry.result;
  }

  /** What is already known of a process, without reading anything: for `status`, which must not wait. */
  known(pid: number): ProcessSqlite | null {
    const entry = this.processes.get(pid);
    if (entry === undefined || entry.settled === null) return null;
    return readProcStat(pid)?.startTime === entry.startTime ? entry.settled : null;
  }

  private async read(pid: number, mapped: MappedLibrary[]): Promise<ProcessSqlite> {
    const libraries = await Promise.all(mapped.map((library) => this.library(pid, library)));
    // A module that links the system library (Python's _sqlite3) carries no SQLite of its own.
    const carrying = libraries.filter((entry) => entry.version !== null || entry.error !== undefined);
    return { pid, libraries: carrying, vulnerable: verdictOf(carrying) };
  }

  private library(pid: number, mapped: MappedLibrary): Promise<SqliteLibrary> {
    const key = `${mapped.dev}:${mapped.ino}`;
    let known = this.libraries.get(key);
    if (known === undefined) {
      known = readFrom(pid, mapped);
      this.libraries.set(key, known);
    }
    return known;
  }
}

/**
 * Reads the mapped file by its path; when an upgrade replaced that path, through the process's own
 * mapping in /proc/<pid>/map_files (readable where the kernel allows it).
 */
async function readFrom(pid: number, mapped: MappedLibrary): Promise<SqliteLibrary> {
  const expect = { dev: mapped.dev, ino: mapped.ino };
  let read = await readLibraryVersion(mapped.path, expect);
  if (!read.ok) {
    const viaMapping = await readLibraryVersion(`/proc/${pid}/map_files/${mapped.range}`, expect);
    if (viaMapping.ok) read = viaMapping;
  }
  if (!read.ok) return { library: mapped.path, version: null, error: read.error };
  if (read.found === null) return { library: mapped.path, version: null };
  return { library: mapped.path, version: read.found.version };
}
