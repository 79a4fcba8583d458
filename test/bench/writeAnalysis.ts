import { errorsOf, writesOf, type ErrorEvent, type GatewayEvent, type WriteEvent } from '../helpers/gatewayLog.js';

export interface FileId {
  dev: number;
  ino: number;
}

export function sameFile(write: WriteEvent, file: FileId): boolean {
  return write.dev === file.dev && write.ino === file.ino;
}

/** Pids that had started before `at`: the processes that may still hold the old file. */
function startedBefore(events: GatewayEvent[], at: number): Set<number> {
  return new Set(events.filter((e) => e.event === 'start' && e.ts_ms <= at).map((e) => e.pid));
}

/**
 * Writes acknowledged into the old file after it left the path: by a process started before the
 * swap, into the old (dev, ino), inside [swapAt, until). The window's end keeps a later file that
 * reused the inode number out. Log stamps are whole ms, so a write in the swap's own ms is left out.
 */
export function lateWrites(events: GatewayEvent[], old: FileId, swapAt: number, until = Infinity): WriteEvent[] {
  const before = startedBefore(events, swapAt);
  return writesOf(events).filter((w) => before.has(w.pid) && sameFile(w, old) && w.ts_ms > swapAt && w.ts_ms < until);
}

/** When a gateway first wrote into the new file after the swap (epoch ms), or null. */
export function firstWriteOnto(events: GatewayEvent[], file: FileId, swapAt: number): number | null {
  const first = writesOf(events).find((w) => sameFile(w, file) && w.ts_ms >= swapAt);
  return first ? first.ts_ms : null;
}

/** SQLite errors a gateway logged after the swap. */
export function errorsAfter(events: GatewayEvent[], swapAt: number): ErrorEvent[] {
  return errorsOf(events).filter((e) => e.ts_ms >= swapAt);
}

/** Gateway processes seen starting after `at` (restarts, from the gateways' own logs). */
export function startsAfter(events: GatewayEvent[], at: number): number {
  return events.filter((e) => e.event === 'start' && e.ts_ms > at).length;
}

/** Distinct error messages with counts, shortest first, for the report. */
export function errorKinds(errors: ErrorEvent[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const e of errors) kinds[e.error] = (kinds[e.error] ?? 0) + 1;
  return kinds;
}

/**
 * Each write's identity as the fixture stores it in the board's payload: `pid:seq`, where seq counts
 * the process's loop turns, each of which logs exactly one write or one error.
 */
export function writeKeys(events: GatewayEvent[]): Map<WriteEvent, string> {
  const turns = new Map<number, number>();
  const keys = new Map<WriteEvent, string>();
  for (const e of events) {
    if (e.event !== 'write' && e.event !== 'error') continue;
    const seq = (turns.get(e.pid) ?? 0) + 1;
    turns.set(e.pid, seq);
    if (e.event === 'write') keys.set(e, `${e.pid}:${seq}`);
  }
  return keys;
}
