import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidsWithMarker } from '../helpers/proc.js';

type Task = () => void | Promise<void>;

const tasks: Task[] = [];

/** Registers work to undo; runs last-registered first. Returns a function that runs it early, once. */
export function onCleanup(task: Task): () => Promise<void> {
  let done = false;
  const once: Task = async () => {
    if (done) return;
    done = true;
    await task();
  };
  tasks.push(once);
  return async () => {
    const index = tasks.indexOf(once);
    if (index >= 0) tasks.splice(index, 1);
    await once();
  };
}

/** Runs every pending cleanup; a failing one does not stop the others. */
export async function runCleanups(): Promise<void> {
  while (tasks.length > 0) {
    const task = tasks.pop()!;
    try {
      await task();
    } catch (error) {
      console.error(`cleanup failed: ${(error as Error).message}`);
    }
  }
}

/** SIGKILLs every process whose command line names `marker` (a temp folder of this run). */
export function killMarked(marker: string): number {
  const pids = pidsWithMarker(marker).filter((pid) => pid !== process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  return pids.length;
}

export interface TempRoot {
  root: string;
  /** Removes the folder after killing any process still running from it. */
  dispose(): Promise<void>;
}

/**
 * A temp folder for one scenario. Every process a scenario starts names this folder on its
 * command line (a log path, a PM2 home), so a sweep by folder finds whatever a failure left behind.
 */
export function tempRoot(prefix: string): TempRoot {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const dispose = onCleanup(() => {
    killMarked(root);
    rmSync(root, { recursive: true, force: true });
  });
  return { root, dispose };
}
