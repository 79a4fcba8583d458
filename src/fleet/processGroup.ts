import { setTimeout as sleep } from 'node:timers/promises';

/** Sends a signal to a whole process group; a group that is already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

export const groupAlive = (pgid: number): boolean => signalGroup(pgid, 0);

/**
 * Kills whatever is left of a group once its leader has exited, so no descendant keeps a board
 * open or outlives its gateway, and waits until the group is gone.
 */
export async function reapGroup(pgid: number, timeoutMs = 2000): Promise<boolean> {
  if (!groupAlive(pgid)) return true;
  signalGroup(pgid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await sleep(10);
  }
  return !groupAlive(pgid);
}
