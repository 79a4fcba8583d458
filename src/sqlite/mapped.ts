import fs from 'node:fs';
import path from 'node:path';
import { encodeDev } from '../board/index.js';

/** A file a process has mapped that may carry SQLite: the system library, or a module that embeds it. */
export interface MappedLibrary {
  path: string;
  /** The address range `/proc/<pid>/map_files/` names it by. */
  range: string;
  dev: number;
  ino: number;
}

/**
 * libsqlite3.so.*, Python's _sqlite3*.so, better-sqlite3's .node, node-sqlite3's .node, sqlcipher: a
 * shared object whose name says SQLite. A binary that links SQLite statically under another name
 * (a Node with node:sqlite) is not found, and its SQLite stays unknown.
 */
const SQLITE_OBJECT = /sql(ite|cipher)[^/]*\.(so(\.\d+)*|node)$/i;

/** The SQLite-carrying files of one process's maps text ("addr perms offset maj:min inode path"), each once. */
export function parseMappedLibraries(maps: string): MappedLibrary[] {
  const found = new Map<string, MappedLibrary>();
  for (const line of maps.split('\n')) {
    const fields = line.split(/\s+/, 6);
    const file = line.slice(line.indexOf('/')).replace(/ \(deleted\)$/, '');
    if (fields.length < 6 || !line.includes('/') || !SQLITE_OBJECT.test(path.basename(file))) continue;
    const [range, , , device, inode] = fields as [string, string, string, string, string];
    const [major, minor] = device.split(':').map((part) => parseInt(part, 16)) as [number, number];
    const ino = Number(inode);
    const key = `${major}:${minor}:${ino}`;
    if (ino === 0 || found.has(key)) continue;
    found.set(key, { path: file, range, dev: encodeDev(major, minor), ino });
  }
  return [...found.values()];
}

/** The SQLite-carrying files `pid` has mapped; null when the process is gone or not ours to read. */
export function mappedLibraries(pid: number): MappedLibrary[] | null {
  try {
    return parseMappedLibraries(fs.readFileSync(`/proc/${pid}/maps`, 'latin1'));
  } catch {
    return null;
  }
}
