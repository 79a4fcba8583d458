import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SupervisorEvent {
  type: string;
  ts_ms: number;
  [field: string]: unknown;
}

/**
 * Follows `<state_dir>/events.jsonl` as it grows, across supervisor restarts (they append to the
 * same file). Only whole lines are parsed; a line that is not JSON is counted and skipped.
 */
export class EventTail {
  readonly events: SupervisorEvent[] = [];
  unparsable = 0;
  private offset = 0;
  private partial = '';

  constructor(readonly file: string) {}

  /** Reads what was appended since the last call; returns the new events. */
  poll(): SupervisorEvent[] {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return [];
    }
    if (size <= this.offset) return [];
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const lines = (this.partial + buffer.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    const added: SupervisorEvent[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const value = JSON.parse(line) as SupervisorEvent;
        if (typeof value.type === 'string' && typeof value.ts_ms === 'number') added.push(value);
        else this.unparsable += 1;
      } catch {
        this.unparsable += 1;
      }
    }
    this.events.push(...added);
    return added;
  }

  /** Polls until `done` holds for the events so far; throws after `timeoutMs`. */
  async waitFor(done: (events: SupervisorEvent[]) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      if (done(this.events)) return;
      if (Date.now() > deadline) {
        const tail = this.events.slice(-8).map((event) => `${event.type}${event.profile ? `(${String(event.profile)})` : ''}`);
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last events: ${tail.join(' ')}`);
      }
      await sleep(25);
    }
  }

  /** Events since the latest `supervisor.start`, i.e. of the supervisor running now. */
  currentLife(): SupervisorEvent[] {
    for (let i = this.events.length - 1; i >= 0; i -= 1) {
      if (this.events[i]!.type === 'supervisor.start') return this.events.slice(i);
    }
    return this.events;
  }

  /** Whether a wave was started and has not finished, in the current supervisor's life. */
  waveInFlight(): boolean {
    let open = 0;
    for (const event of this.currentLife()) {
      if (event.type === 'wave.start') open += 1;
      else if (event.type === 'wave.done') open = Math.max(0, open - 1);
    }
    return open > 0;
  }
}
