// What /proc says of a kanban worker, as the bench sees it from outside: alive, and which file it has open.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { FileId } from './writeAnalysis.js';

/** Running (a zombie, killed and not yet reaped, is not). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Whether one of the process's fds is `file`: stat() of the fd link gives what is really open, whatever the link's text says. */
export function holds(pid: number, file: FileId): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      return st.dev === file.dev && st.ino === file.ino;
    } catch {
      return false;
    }
  });
}
