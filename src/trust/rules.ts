/**
 * Whether a path can be trusted, judged the way OpenSSH's StrictModes does: every component owned by
 * the supervisor's user or root, none writable by others (a sticky folder like /tmp is fine above the
 * path), and no symlink owned by anyone else. Pure: the file system walk lives in walk.ts.
 */

export type EntryKind = 'directory' | 'file' | 'symlink' | 'socket' | 'other';

/** One component of a path as lstat saw it. */
export interface PathEntry {
  path: string;
  kind: EntryKind;
  uid: number;
  /** st_mode's permission bits, sticky bit included. */
  mode: number;
}

/** How a path is walked: its components from "/" (symlinks and what they lead to included), and the last one. */
export interface PathChain {
  /** Folders above the final component, and every symlink met on the way. */
  above: PathEntry[];
  /** The component the path finally names; null when it does not exist (yet). */
  final: PathEntry | null;
}

export interface TrustPolicy {
  /** The supervisor's user. */
  uid: number;
  /** Who may own the final component: the user alone (what the supervisor writes in), or root too (what it reads). */
  finalOwner: 'user' | 'user-or-root';
  /** The final component's kind when it must be one. */
  finalKind?: EntryKind;
}

const STICKY = 0o1000;
const GROUP_OR_OTHER_WRITE = 0o022;

export const modeText = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

function ownersText(uid: number, rootToo: boolean): string {
  if (uid === 0) return 'root (uid 0)';
  return rootToo ? `uid ${uid} or root` : `uid ${uid}`;
}

function ownerProblem(entry: PathEntry, uid: number, rootToo: boolean, what: string): string | null {
  if (entry.uid === uid || (rootToo && entry.uid === 0)) return null;
  return `${what} ${entry.path} is owned by uid ${entry.uid}; expected ${ownersText(uid, rootToo)}`;
}

/** The problem with one folder or symlink above the final component, or null. */
export function judgeAbove(entry: PathEntry, uid: number): string | null {
  if (entry.kind === 'symlink') return ownerProblem(entry, uid, true, 'symlink');
  const owner = ownerProblem(entry, uid, true, 'folder');
  if (owner !== null) return owner;
  if ((entry.mode & GROUP_OR_OTHER_WRITE) !== 0 && (entry.mode & STICKY) === 0) {
    return `folder ${entry.path} is writable by group or others (mode ${modeText(entry.mode)}); expected chmod go-w, or the sticky bit as on /tmp`;
  }
  return null;
}

/** The problem with the component a path finally names, or null. */
export function judgeFinal(entry: PathEntry, policy: TrustPolicy): string | null {
  if (policy.finalKind !== undefined && entry.kind !== policy.finalKind) {
    return `${entry.path} is a ${entry.kind}; expected a ${policy.finalKind}`;
  }
  const owner = ownerProblem(entry, policy.uid, policy.finalOwner === 'user-or-root', entry.kind);
  if (owner !== null) return owner;
  if ((entry.mode & GROUP_OR_OTHER_WRITE) !== 0) {
    return `${entry.kind} ${entry.path} is writable by group or others (mode ${modeText(entry.mode)}); expected chmod go-w`;
  }
  return null;
}

/** The first problem along a path, or null when every component can be trusted. */
export function judgeChain(chain: PathChain, policy: TrustPolicy): string | null {
  for (const entry of chain.above) {
    const problem = judgeAbove(entry, policy.uid);
    if (problem !== null) return problem;
  }
  return chain.final === null ? null : judgeFinal(chain.final, policy);
}
