import fs from 'node:fs';
import path from 'node:path';
import type { EntryKind, PathChain, PathEntry } from './rules.js';

/** Symlinks followed on one walk before it is given up, like the kernel's ELOOP limit. */
const MAX_LINKS = 40;

function kindOf(stats: fs.Stats): EntryKind {
  if (stats.isDirectory()) return 'directory';
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isSocket()) return 'socket';
  return 'other';
}

function entryOf(file: string, stats: fs.Stats): PathEntry {
  return { path: file, kind: kindOf(stats), uid: stats.uid, mode: stats.mode & 0o7777 };
}

function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot check ${file}: ${(err as Error).message}`);
  }
}

/**
 * Every component of target from "/" as lstat sees it, following symlinks by hand so that each link
 * and each folder on the way to what it points at is seen too. A missing component ends the walk
 * with final = null: the folders above it are still judged.
 */
export function walkPath(target: string): PathChain {
  const seen = new Map<string, PathEntry>();
  const above: PathEntry[] = [];
  const note = (entry: PathEntry) => {
    if (seen.has(entry.path)) return;
    seen.set(entry.path, entry);
    above.push(entry);
  };
  let remaining = path.resolve(target).split('/').filter(Boolean);
  let current = '/';
  let links = 0;
  const root = lstatOrNull('/');
  if (root !== null) note(entryOf('/', root));
  while (remaining.length > 0) {
    const next = path.join(current, remaining[0]!);
    const stats = lstatOrNull(next);
    if (stats === null) return { above, final: null };
    if (stats.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new Error(`cannot check ${target}: too many levels of symlinks`);
      note(entryOf(next, stats));
      const pointsTo = fs.readlinkSync(next);
      remaining = [...pointsTo.split('/').filter(Boolean), ...remaining.slice(1)];
      if (path.isAbsolute(pointsTo)) current = '/';
      continue;
    }
    if (remaining.length === 1) return { above, final: entryOf(next, stats) };
    note(entryOf(next, stats));
    current = next;
    remaining = remaining.slice(1);
  }
  // target resolved to "/" itself.
  const final = above.pop() ?? null;
  return { above, final };
}
