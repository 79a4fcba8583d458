import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processesNaming } from './procWatch.js';
import type { SupervisorProcess } from './supervisor.js';

/** SIGTERM, then SIGKILL after `graceMs`, for a supervisor this run started and that still runs. */
export async function stopSupervisor(supervisor: SupervisorProcess, graceMs: number): Promise<'exited' | 'killed'> {
  if (!supervisor.running()) return 'exited';
  supervisor.child.kill('SIGTERM');
  const exited = await Promise.race([supervisor.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (exited) return 'exited';
  supervisor.child.kill('SIGKILL');
  await supervisor.exited;
  return 'killed';
}

/** SIGKILLs, one pid at a time, every process whose command line names the run's folder; returns the pids. */
export async function killNaming(marker: string): Promise<number[]> {
  const killed = new Set<number>();
  for (let round = 0; round < 20; round += 1) {
    const found = processesNaming(marker);
    if (found.length === 0) break;
    for (const { pid } of found) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // Gone already.
      }
    }
    await sleep(100);
  }
  return [...killed];
}

/** Stops what the run started (supervisors first, so they stop their gateways) and removes its folder. */
export async function cleanupRun(root: string, supervisors: readonly SupervisorProcess[], keepFolder: boolean): Promise<number[]> {
  for (const supervisor of supervisors) await stopSupervisor(supervisor, 10_000);
  const killed = await killNaming(root);
  if (!keepFolder) rmSync(root, { recursive: true, force: true });
  return killed;
}
