import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { listPids } from '../board/proc.js';
import { groupAlive } from '../fleet/processGroup.js';

/** State (field 3) and process group (field 5) of /proc/<pid>/stat, or null once the process is gone. */
function stateAndGroup(pid: number): { state: string; pgrp: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // comm is in parentheses and may itself hold ") "; the fields after the last ')' are plain.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ', 3);
  if (fields.length < 3) return null;
  return { state: fields[0]!, pgrp: Number(fields[2]) };
}

/**
 * Members of a process group that still run. Zombies are left out: they are dead, and one whose new
 * parent never reaps it (an init that does not wait) would otherwise keep a group "alive" for ever.
 */
export function liveGroupMembers(pgid: number): number[] {
  if (!groupAlive(pgid)) return [];
  const members: number[] = [];
  for (const pid of listPids()) {
    const stat = stateAndGroup(pid);
    if (stat !== null && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(pid);
  }
  return members;
}

/** Waits until no member of the group runs; false if some still do after timeoutMs. */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (liveGroupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}
