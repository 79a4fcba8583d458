import { readFileSync } from 'node:fs';
import { STATE_DIR_MARK } from '../hermes/index.js';

/** What the supervisor started a process group for; recorded and marked so a crash never orphans it for good. */
export type GroupKind = 'gateway' | 'hook' | 'init';

export const GROUP_KINDS: readonly GroupKind[] = ['gateway', 'hook', 'init'];

/** Names the kind of group a leader was started as. */
export const KIND_MARK = 'HERMES_SUPERVISOR_KIND';
/**
 * The leader's own pid, set by the shell that execs it: a descendant that inherits the environment
 * but runs in a group of its own (a kanban worker started with setsid) carries a value that is not its
 * process group, so it is never taken for a group the supervisor started.
 */
export const PGID_MARK = 'HERMES_SUPERVISOR_PGID';

/** Marks a group as started by the supervisor of one state dir. */
export interface GroupMark {
  stateDir: string;
  kind: GroupKind;
}

/** The shell script that puts the leader's pid in its environment and becomes the program (same pid). */
const MARK_SCRIPT = `${PGID_MARK}=$$; export ${PGID_MARK}; exec "$@"`;

/** The environment and argv that start `argv` marked; without a mark, stale marks are dropped. */
export function markedCommand(argv: string[], env: Record<string, string>, mark: GroupMark | undefined): { argv: string[]; env: Record<string, string> } {
  const clean = { ...env };
  delete clean[KIND_MARK];
  delete clean[PGID_MARK];
  if (mark === undefined) return { argv, env: clean };
  return {
    argv: ['/bin/sh', '-c', MARK_SCRIPT, 'sh', ...argv],
    env: { ...clean, [STATE_DIR_MARK]: mark.stateDir, [KIND_MARK]: mark.kind },
  };
}

/** Whether `pid` is still the marking shell, an instant before it execs the program and sets the PGID mark. */
function runsMarkScript(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[2] === MARK_SCRIPT;
  } catch {
    return false;
  }
}

/** A process's environment as name -> value; null when it cannot be read (gone, or another user's). */
export function readEnviron(pid: number): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return null;
  }
  const env = new Map<string, string>();
  for (const entry of text.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0) env.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return env;
}

/**
 * The kind of group the supervisor of `stateDir` started that `pid` runs in, or null. It must carry
 * the state dir's mark, a kind, and a PGID mark equal to its actual process group: true of the leader
 * (or of the marking shell it still is) and of whatever stayed in its group, false of a descendant
 * that moved to a group of its own.
 */
export function markedGroupKind(pid: number, pgrp: number, stateDir: string): GroupKind | null {
  const env = readEnviron(pid);
  if (env === null || env.get(STATE_DIR_MARK) !== stateDir) return null;
  if (env.get(PGID_MARK) !== String(pgrp) && !(pid === pgrp && runsMarkScript(pid))) return null;
  const kind = env.get(KIND_MARK) as GroupKind | undefined;
  return kind !== undefined && GROUP_KINDS.includes(kind) ? kind : null;
}
