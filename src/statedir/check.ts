/** The state dir holds the control socket and logs: it must be ours alone. */
import fs from 'node:fs';
import path from 'node:path';
import { trustProblem } from '../trust/index.js';

function ownProblem(label: string, stats: fs.Stats): string | null {
  if (!stats.isDirectory()) return `${label} is not a directory`;
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    return `${label} is owned by uid ${stats.uid}, not by the current user (uid ${uid})`;
  }
  const mode = stats.mode & 0o777;
  if ((mode & 0o022) !== 0) {
    return `${label} is writable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod go-w on it`;
  }
  return null;
}

/**
 * What is wrong with dir as a state dir, in one line naming it, or null when it is fine: the dir is
 * private, and so is every folder and symlink leading to it (nobody else can re-point the path).
 */
export function checkStateDir(dir: string): string | null {
  return checkStateDirItself(dir) ?? trustProblem(dir, { what: 'state dir', finalOwner: 'user', finalKind: 'directory' });
}

function checkStateDirItself(dir: string): string | null {
  let stats: fs.Stats;
  try {
    stats = fs.lstatSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `state dir ${dir} does not exist` : `state dir ${dir} cannot be checked: ${(err as Error).message}`;
  }
  if (!stats.isSymbolicLink()) return ownProblem(`state dir ${dir}`, stats);
  let target: string;
  try {
    target = fs.realpathSync(dir);
    stats = fs.statSync(target);
  } catch (err) {
    return `state dir ${dir} is a symlink that cannot be followed: ${(err as Error).message}`;
  }
  return ownProblem(`state dir ${dir} is a symlink to ${target}, which`, stats);
}

/** Creates dir (and missing parents) with mode 0700, then throws if it is not private to this user. */
export function ensureStateDir(dir: string): void {
  let created: string | undefined;
  try {
    created = fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    // EEXIST: something that is not a directory is in the way; the check below names it.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create state dir ${dir}: ${(err as Error).message}`);
  }
  // mkdir's mode is filtered by the umask; a directory we made is set to exactly 0700.
  if (created !== undefined) fs.chmodSync(dir, 0o700);
  const problem = checkStateDir(dir);
  if (problem !== null) throw new Error(problem);
}

/**
 * Whether a supervisor could use dir as its state dir, without creating anything: an existing dir must
 * pass checkStateDir; a missing one needs its nearest existing parent to be a dir we may create in.
 */
export function stateDirUsable(dir: string): string | null {
  if (fs.existsSync(dir) || isSymlink(dir)) return checkStateDir(dir);
  let parent = path.dirname(dir);
  while (!fs.existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
  try {
    if (!fs.statSync(parent).isDirectory()) return `state dir ${dir} cannot be created: ${parent} is not a directory`;
    fs.accessSync(parent, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    return `state dir ${dir} cannot be created in ${parent}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  return null;
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
