import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Hermes's planned-stop marker, in the gateway's HERMES_HOME: a SIGTERM it names is a stop, not a crash. */
export const PLANNED_STOP_MARKER = '.gateway-planned-stop.json';

export interface PlannedStop {
  targetPid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); null when it could not be read. */
  targetStartTime: number | null;
  stopperPid: number;
  writtenAt: Date;
}

/** The marker's JSON, field for field as Hermes's `write_planned_stop_marker` writes it. */
export function plannedStopRecord(stop: PlannedStop): Record<string, unknown> {
  return {
    target_pid: stop.targetPid,
    target_start_time: stop.targetStartTime,
    stopper_pid: stop.stopperPid,
    written_at: stop.writtenAt.toISOString(),
  };
}

/**
 * Writes the marker into `home` atomically (a temp file renamed over it, mode 0600), so the gateway
 * never reads half of one. Throws on a failed write; the caller stops the gateway anyway.
 */
export function writePlannedStop(home: string, stop: PlannedStop): string {
  const file = path.join(home, PLANNED_STOP_MARKER);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(plannedStopRecord(stop)), { mode: 0o600 });
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  return file;
}

/**
 * Removes the marker once its target has exited, if the target never consumed it (a command that is
 * not Hermes): a stray marker would otherwise stay in the profile's folder.
 */
export function clearPlannedStop(home: string, targetPid: number): void {
  const file = path.join(home, PLANNED_STOP_MARKER);
  let marker: unknown;
  try {
    marker = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return;
  }
  if ((marker as { target_pid?: unknown } | null)?.target_pid === targetPid) rmSync(file, { force: true });
}
