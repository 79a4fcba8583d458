import { mkdirSync, renameSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { eventsFile } from '../statedir/index.js';
import { appendPrivateFile } from '../trust/index.js';
import { redactDeep } from '../util/index.js';

export interface SupervisorEvent {
  /** ISO 8601 with milliseconds. */
  ts: string;
  /** Epoch milliseconds with sub-millisecond precision. */
  ts_ms: number;
  /** CLOCK_MONOTONIC in milliseconds: the same clock in every process on the host, for latency figures. */
  mono_ms: number;
  type: string;
  [field: string]: unknown;
}

export const monotonicMs = (): number => Math.round(Number(process.hrtime.bigint()) / 1000) / 1000;

export type EventListener = (event: SupervisorEvent) => void;

export interface EventLogRotation {
  /** The live file is renamed to `events.jsonl.1` once it reaches this many bytes. */
  maxBytes: number;
  /** Rotated files kept (`events.jsonl.1` newest ... `events.jsonl.<keep>` oldest). */
  keep: number;
}

/** Large enough that tests and short runs never rotate; the supervisor passes `logs.*`. */
const DEFAULT_ROTATION: EventLogRotation = { maxBytes: 10 * 1024 ** 2, keep: 5 };

/**
 * The event log: every state change, one JSON object a line in `<state_dir>/events.jsonl`.
 * Appends are synchronous so the order on disk is the order things happened, even if the
 * supervisor is killed right after. The file rotates by rename, so a reader holding it open
 * (`events -f`) can finish the old file before moving to the new one.
 */
export class EventLog {
  readonly file: string;
  private readonly listeners = new Set<EventListener>();
  private appendFailed = false;
  private size: number;

  constructor(
    stateDir: string,
    private readonly rotation: EventLogRotation = DEFAULT_ROTATION,
  ) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = eventsFile(stateDir);
    this.size = sizeOrZero(this.file);
  }

  emit(type: string, fields: Record<string, unknown> = {}): SupervisorEvent {
    const now = performance.timeOrigin + performance.now();
    const event: SupervisorEvent = {
      ts: new Date(now).toISOString(),
      ts_ms: Math.round(now * 1000) / 1000,
      mono_ms: monotonicMs(),
      type,
      // Events reach the log, the terminal and hooks: no secret may ride along in an error or a reason.
      ...redactDeep(fields),
    };
    this.append(`${JSON.stringify(event)}\n`);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must never stop the log or the supervisor.
      }
    }
    return event;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private append(line: string): void {
    try {
      if (this.size > 0 && this.size + Buffer.byteLength(line) > this.rotation.maxBytes) this.rotate();
      appendPrivateFile(this.file, line);
      this.size += Buffer.byteLength(line);
      this.appendFailed = false;
    } catch (err) {
      // A full disk or a removed state dir must not stop the supervisor from running or shutting down.
      // The event log cannot say it itself: stderr does, once until a write succeeds again.
      if (!this.appendFailed) process.stderr.write(`hermes-supervisor: ${(err as Error).message}\n`);
      this.appendFailed = true;
      this.size = sizeOrZero(this.file);
    }
  }

  /** Shifts `.1` ... `.<keep-1>` up by one (the oldest is replaced), then renames the live file to `.1`. */
  private rotate(): void {
    for (let n = this.rotation.keep - 1; n >= 1; n--) renameIfExists(`${this.file}.${n}`, `${this.file}.${n + 1}`);
    renameIfExists(this.file, `${this.file}.1`);
    this.size = 0;
  }
}

function sizeOrZero(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
