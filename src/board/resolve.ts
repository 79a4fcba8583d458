import fs from 'node:fs';
import path from 'node:path';

/**
 * Where a board path leads. SQLite opens the final target of a symlink (every link on the way, in
 * folders too, resolved) and finds `-wal`/`-shm`/`-journal` beside that target, not beside the link.
 */
export interface BoardLocation {
  /** The path as configured, made absolute. */
  path: string;
  /** The file SQLite opens at `path`; where it would be created when the path (or its last link) dangles. */
  real: string;
  /** Whether `real` differs from `path`: a symlink somewhere on the way. */
  linked: boolean;
}

/** Linux gives up after 40 links (ELOOP); a loop ends here too, at the link it stopped on. */
const MAX_LINKS = 40;

/** A folder's real path; one that does not exist is its parent's real path plus its name. */
function realFolder(dir: string): string {
  try {
    return fs.realpathSync.native(dir);
  } catch {
    const parent = path.dirname(dir);
    return parent === dir ? dir : path.join(realFolder(parent), path.basename(dir));
  }
}

/** The link's text, or null when `file` is no symlink (or is missing). lstat-level only: no fd is opened on a board file. */
function linkText(file: string): string | null {
  try {
    return fs.readlinkSync(file);
  } catch {
    return null;
  }
}

/** Follows `file` link by link, so a dangling link still names the file it waits for. */
export function realBoardPath(file: string): string {
  const absolute = path.resolve(file);
  let current = path.join(realFolder(path.dirname(absolute)), path.basename(absolute));
  for (let hop = 0; hop < MAX_LINKS; hop++) {
    const text = linkText(current);
    if (text === null) return current;
    const next = path.resolve(path.dirname(current), text);
    current = path.join(realFolder(path.dirname(next)), path.basename(next));
  }
  return current;
}

export function resolveBoardPath(file: string): BoardLocation {
  const absolute = path.resolve(file);
  const real = realBoardPath(absolute);
  return { path: absolute, real, linked: real !== absolute };
}
