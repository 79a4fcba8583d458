import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Lines written by test/fixtures/hermes_gateway.py to its --log file (JSON lines). */
interface Base {
  profile: string;
  pid: number;
  ts_ms: number;
}

export type GatewayMode = 'hold' | 'tick' | 'idle' | 'init' | 'migrate';

export interface StartEvent extends Base {
  event: 'start';
  ppid: number;
  mode: GatewayMode;
  db: string | null;
  granted: boolean;
  child: number | null;
}

/** One acknowledged write: logged only after COMMIT returned. dev/ino name the file the
 *  connection holds, which may no longer be the file at the board's path. */
export interface WriteEvent extends Base {
  event: 'write';
  dev: number;
  ino: number;
  rowid: number;
  mode: GatewayMode;
}

export interface ErrorEvent extends Base {
  event: 'error';
  dev: number | null;
  ino: number | null;
  error: string;
  stage: string | null;
  /** When the failing step began (the board loop's errors only). */
  began_ms?: number;
}

export interface DeniedEvent extends Base {
  event: 'denied';
  db: string | null;
}

export interface InitEvent extends Base {
  event: 'init';
  dev: number;
  ino: number;
  db: string;
}

export interface StopEvent extends Base {
  event: 'stop';
  signal: string | null;
}

/** A self-inflicted exit (--exit-after-ms), logged just before the process dies. */
export interface ExitEvent extends Base {
  event: 'exit';
  code: number;
}

/** A kanban worker the gateway's dispatcher spawned, with its task and run. */
export interface SpawnEvent extends Base {
  event: 'spawn';
  worker: number;
  task: string;
  run_id: number;
  db: string;
}

/** A copy double-forked into a session of its own (--escape-child). */
export interface EscapeEvent extends Base {
  event: 'escape';
  escapee: number;
}

export type GatewayEvent =
  | StartEvent
  | WriteEvent
  | ErrorEvent
  | DeniedEvent
  | InitEvent
  | StopEvent
  | ExitEvent
  | SpawnEvent
  | EscapeEvent;

const KNOWN = new Set(['start', 'write', 'error', 'denied', 'init', 'stop', 'exit', 'spawn', 'escape']);

function isEvent(value: unknown): value is GatewayEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.event === 'string' && KNOWN.has(v.event) && typeof v.pid === 'number';
}

/** Parses a log's text. A torn last line (writer killed mid-write) and unknown lines are skipped. */
export function parseGatewayLog(text: string): GatewayEvent[] {
  const events: GatewayEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (isEvent(value)) events.push(value);
  }
  return events;
}

/** Reads a log file; a log not written yet reads as empty. */
export function readGatewayLog(file: string): GatewayEvent[] {
  try {
    return parseGatewayLog(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export function writesOf(events: GatewayEvent[]): WriteEvent[] {
  return events.filter((e): e is WriteEvent => e.event === 'write');
}

export function errorsOf(events: GatewayEvent[]): ErrorEvent[] {
  return events.filter((e): e is ErrorEvent => e.event === 'error');
}

/** Key for a file identity as logged: `dev:ino`. */
export function identityKey(e: { dev: number | null; ino: number | null }): string {
  return `${e.dev}:${e.ino}`;
}

/** Numbers each written-to identity by first appearance in the log: 0, 1, 2, ... */
export function generationsOf(writes: WriteEvent[]): Map<string, number> {
  const generations = new Map<string, number>();
  for (const w of [...writes].sort((a, b) => a.ts_ms - b.ts_ms)) {
    const key = identityKey(w);
    if (!generations.has(key)) generations.set(key, generations.size);
  }
  return generations;
}

/** Polls the log until `done` holds; rejects with the last events seen after `timeoutMs`. */
export async function waitForGatewayLog(
  file: string,
  done: (events: GatewayEvent[]) => boolean,
  timeoutMs = 120_000,
  pollMs = 25,
): Promise<GatewayEvent[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const events = readGatewayLog(file);
    if (done(events)) return events;
    if (Date.now() >= end) {
      const tail = events.slice(-5).map((e) => JSON.stringify(e)).join('\n');
      throw new Error(`gateway log ${file} did not reach the expected state in ${timeoutMs} ms; last lines:\n${tail}`);
    }
    await sleep(pollMs);
  }
}
