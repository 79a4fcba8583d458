import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

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

/**
 * The event log: every state change, one JSON object a line in `<state_dir>/events.jsonl`.
 * Appends are synchronous so the order on disk is the order things happened, even if the
 * supervisor is killed right after.
 */
export class EventLog {
  readonly file: string;
  private readonly listeners = new Set<EventListener>();
  private appendFailed = false;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = path.join(stateDir, 'events.jsonl');
  }

  emit(type: string, fields: Record<string, unknown> = {}): SupervisorEvent {
    const now = performance.timeOrigin + performance.now();
    const event: SupervisorEvent = {
      ts: new Date(now).toISOString(),
      ts_ms: Math.round(now * 1000) / 1000,
      mono_ms: monotonicMs(),
      type,
      ...fields,
    };
    try {
      appendFileSync(this.file, `${JSON.stringify(event)}\n`, { mode: 0o600 });
    } catch (err) {
      // A full disk or a removed state dir must not stop the supervisor from running or shutting down.
      if (!this.appendFailed) process.stderr.write(`hermes-supervisor: cannot write ${this.file}: ${(err as Error).message}\n`);
      this.appendFailed = true;
    }
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
}
