import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { WaveQueue } from './waveQueue.js';

/** What a wave needs of a gateway: the fleet's Gateway, or a small stand-in in tests. */
export interface WaveGateway {
  readonly held: boolean;
  readonly pid: number | null;
  stop(): Promise<void>;
  /** SIGUSR1 and the wait for the drained gateway to exit; false, with nothing done, unless it is ready. */
  drain(reason: string): Promise<boolean>;
  start(reason: string, graceful?: boolean): void;
  waitReady(): Promise<boolean>;
}

/** Where a wave reports its progress: the event log. */
export interface WaveEvents {
  emit(type: string, fields?: Record<string, unknown>): unknown;
}

/** Where a wave finds gateways by profile; a profile removed meanwhile is not found. */
export interface WaveFleet {
  get(profile: string): WaveGateway | undefined;
}

export interface WaveResult {
  boards: string[];
  profiles: string[];
  reasons: string[];
  restarted: string[];
  /** Profiles that did not come back ready (still restarting with backoff, or failed). */
  failed: string[];
  /** Profiles whose restart a pre_restart hook refused. */
  vetoed: string[];
  /** Profiles left alone: stopped by an operator, held by board maintenance, or removed. */
  skipped: string[];
  durationMs: number;
}

export interface WaveRequest {
  profiles: Iterable<string>;
  reason: string;
  board?: string;
  /**
   * Profiles that must come back whatever a hook says: they were fenced off a replaced board (or
   * stopped for a board job), so they are down already. A wave with any starts at once, and starts
   * them together (`fencedParallel` at a time) without waiting for each other's readiness.
   */
  mandatory?: Iterable<string>;
  /** Start the wave now instead of after the debounce window, and restart its healthy gateways without waiting for quiet. */
  immediate?: boolean;
  /** Restart by SIGUSR1 (Hermes drains, exits 75) rather than by a planned stop; see WaveQueue.graceful. */
  graceful?: boolean;
}

export interface WaveOptions {
  /** Healthy gateways restarted at once, each batch ready before the next. */
  maxParallel: number;
  /** Fenced (mandatory) gateways starting at once; the next starts as soon as one is ready or failed. */
  fencedParallel: number;
  debounceMs: number;
  /** Asked before each restart; false vetoes it (ignored for mandatory restarts, which are reported). */
  approve?: (profile: string, reason: string, pid: number | null) => Promise<boolean>;
  /** Told after each restart that came back ready. */
  restarted?: (profile: string, reason: string, pid: number | null) => void;
}

type Outcome = 'ready' | 'failed' | 'vetoed' | 'skipped';

/**
 * Coordinated restarts. Fenced (mandatory) gateways are already down: they start at once, together,
 * `fenced_parallel` at a time, none waiting for another's readiness. Healthy gateways follow once the
 * fenced ones are back, `max_parallel` at a time, each batch ready before the next, and not before
 * the debounce window after the last board event. Requests inside the debounce window coalesce into
 * one wave; a request during a wave re-plans it, and fenced gateways it adds start at once.
 */
export class WaveRunner {
  /** The wave being gathered (debouncing) or run, with the callers waiting for its result. */
  private wave: { queue: WaveQueue; waiters: Array<(result: WaveResult) => void>; running: boolean } | null = null;
  private readonly mandatory = new Set<string>();
  private debounceTimer: NodeJS.Timeout | undefined;
  /** Healthy gateways are restarted from then on: the debounce window after the last board event. */
  private quietAt = 0;
  /** Wakes the running wave when a request re-plans it. */
  private wake: () => void = () => undefined;
  private closed = false;

  constructor(
    private readonly fleet: WaveFleet,
    private readonly events: WaveEvents,
    private options: WaveOptions,
  ) {}

  /** New settings (after a reload) apply from the next batch. */
  setOptions(options: Partial<WaveOptions>): void {
    this.options = { ...this.options, ...options };
  }

  /** Adds profiles to the coming (or running) wave; resolves with the result of the wave that restarts them. */
  request(request: WaveRequest): Promise<WaveResult> {
    if (this.closed) return Promise.resolve(emptyResult());
    this.wave ??= { queue: new WaveQueue(), waiters: [], running: false };
    const wave = this.wave;
    const result = new Promise<WaveResult>((resolve) => wave.waiters.push(resolve));
    for (const profile of request.mandatory ?? []) this.mandatory.add(profile);
    if (!request.immediate) this.quietAt = Date.now() + this.options.debounceMs;
    const added = wave.queue.add(request.profiles, request.reason, request.board, request.graceful === true);
    if (wave.running) {
      const fenced = added.filter((profile) => this.mandatory.has(profile));
      this.events.emit('wave.replan', {
        board: request.board ?? null,
        added,
        ...(fenced.length > 0 ? { fenced } : {}),
        reason: request.reason,
        ...gracefulField(request.graceful === true),
      });
      this.wake();
    } else {
      clearTimeout(this.debounceTimer);
      // Fenced gateways are down: every moment they wait is work lost. A later swap re-plans the wave.
      const now = request.immediate || [...wave.queue.profiles].some((profile) => this.mandatory.has(profile));
      this.debounceTimer = setTimeout(() => this.begin(), now ? 0 : this.options.debounceMs);
    }
    return result;
  }

  get busy(): boolean {
    return this.wave !== null;
  }

  /** Drops any wave not yet begun (its callers get an empty result); a running wave stops after its current batch. */
  close(): void {
    this.closed = true;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    this.wake();
    if (this.wave && !this.wave.running) {
      for (const resolve of this.wave.waiters) resolve(emptyResult());
      this.wave = null;
    }
  }

  private begin(): void {
    this.debounceTimer = undefined;
    const wave = this.wave;
    if (!wave || this.closed) return;
    wave.running = true;
    void this.run(wave.queue).catch((err: Error) => {
      // A failed wave must not wedge the runner: report it and let its callers go on.
      this.events.emit('wave.error', { error: err.message });
      return { ...emptyResult(), profiles: [...wave.queue.profiles], failed: [...wave.queue.profiles] };
    }).then((result) => {
      this.wave = null;
      // A request that landed after the last batch was taken still gets its restart, in a wave of its own.
      const leftovers = wave.queue.nextBatch(Number.MAX_SAFE_INTEGER);
      if (leftovers.length > 0 && !this.closed) {
        const graceful = leftovers.filter((profile) => wave.queue.graceful.has(profile));
        const plain = leftovers.filter((profile) => !wave.queue.graceful.has(profile));
        const reason = [...wave.queue.reasons].join(',');
        for (const [profiles, isGraceful] of [[plain, false], [graceful, true]] as const) {
          if (profiles.length > 0) void this.request({ profiles, reason, immediate: true, graceful: isGraceful });
        }
      } else {
        this.mandatory.clear();
      }
      for (const resolve of wave.waiters) resolve(result);
    });
  }

  private async run(queue: WaveQueue): Promise<WaveResult> {
    const started = performance.now();
    const boards = () => [...queue.boards];
    const fencedIn = () => [...queue.profiles].filter((profile) => this.mandatory.has(profile));
    this.events.emit('wave.start', {
      board: boards()[0] ?? null,
      boards: boards(),
      profiles: [...queue.profiles],
      fenced: fencedIn(),
      reason: [...queue.reasons].join(','),
      max_parallel: this.options.maxParallel,
      fenced_parallel: this.options.fencedParallel,
      ...gracefulField(queue.graceful.size > 0),
    });
    // Sets: a profile fenced again by a swap during the wave is restarted twice but listed once.
    const outcomes: Record<Outcome, Set<string>> = { ready: new Set(), failed: new Set(), vetoed: new Set(), skipped: new Set() };
    const running = new Map<string, { fenced: boolean; done: Promise<void> }>();
    const launch = (profile: string, fenced: boolean) => {
      const reason = [...queue.reasons].join(',');
      const done = this.restartOne(profile, reason, queue.graceful.has(profile)).then((outcome) => {
        for (const set of Object.values(outcomes)) set.delete(profile);
        outcomes[outcome].add(profile);
        running.delete(profile);
      });
      running.set(profile, { fenced, done });
    };
    // A profile whose restart is under way waits for it to end before it is restarted again.
    const idle = (profile: string) => !running.has(profile);
    const isFenced = (profile: string) => this.mandatory.has(profile);
    for (;;) {
      const waits: Array<Promise<unknown>> = [new Promise<void>((resolve) => (this.wake = resolve))];
      if (!this.closed) {
        const fencedRunning = [...running.values()].filter((entry) => entry.fenced).length;
        for (const profile of queue.take(this.options.fencedParallel - fencedRunning, (profile) => isFenced(profile) && idle(profile))) launch(profile, true);
        // Healthy gateways go once the fenced ones are back, a batch at a time, after the debounce window.
        const fencedLeft = queue.waiting(isFenced) || [...running.values()].some((entry) => entry.fenced);
        if (!fencedLeft && running.size === 0 && queue.size > 0) {
          const quietIn = this.quietAt - Date.now();
          if (quietIn > 0) waits.push(sleep(quietIn, undefined, { ref: false }));
          else for (const profile of queue.take(this.options.maxParallel, idle)) launch(profile, false);
        }
      }
      if (running.size === 0 && waits.length === 1) break;
      await Promise.race([...waits, ...[...running.values()].map((entry) => entry.done)]);
    }
    this.wake = () => undefined;
    const result: WaveResult = {
      boards: boards(),
      profiles: [...queue.profiles],
      reasons: [...queue.reasons],
      restarted: [...outcomes.ready],
      failed: [...outcomes.failed],
      vetoed: [...outcomes.vetoed],
      skipped: [...outcomes.skipped],
      durationMs: Math.round(performance.now() - started),
    };
    this.events.emit('wave.done', {
      board: result.boards[0] ?? null,
      boards: result.boards,
      profiles: result.profiles,
      fenced: fencedIn(),
      reason: result.reasons.join(','),
      restarted: result.restarted,
      failed: result.failed,
      vetoed: result.vetoed,
      skipped: result.skipped,
      duration_ms: result.durationMs,
      ...gracefulField(queue.graceful.size > 0),
    });
    return result;
  }

  /**
   * 'skipped': the profile is no longer in the fleet, or an operator stopped it. A graceful restart of
   * a gateway not yet ready (still starting) is a plain one: there is nothing to drain yet.
   */
  private async restartOne(profile: string, reason: string, graceful: boolean): Promise<Outcome> {
    const gateway = this.fleet.get(profile);
    if (!gateway) return 'skipped';
    const mandatory = this.mandatory.has(profile);
    if (gateway.held && !mandatory) return 'skipped';
    if (this.options.approve && !(await this.options.approve(profile, reason, gateway.pid))) {
      if (!mandatory) {
        this.events.emit('wave.veto', { profile, reason });
        return 'vetoed';
      }
      this.events.emit('wave.veto_ignored', { profile, reason: 'fenced off a replaced board: it cannot stay on the old file' });
    }
    const drained = graceful && (await gateway.drain(`wave:${reason}`));
    if (!drained) await gateway.stop();
    if (this.closed) return 'failed';
    // While we waited, an operator may have stopped it, a board job held it, or a reload removed it.
    if (gateway.held || this.fleet.get(profile) !== gateway) return 'skipped';
    gateway.start(`wave:${reason}`, drained);
    const ready = await gateway.waitReady();
    if (ready) this.options.restarted?.(profile, reason, gateway.pid);
    return ready ? 'ready' : 'failed';
  }
}

/** The `graceful: true` field of the wave events of a graceful restart; plain waves carry none. */
const gracefulField = (graceful: boolean): { graceful?: true } => (graceful ? { graceful } : {});

function emptyResult(): WaveResult {
  return { boards: [], profiles: [], reasons: [], restarted: [], failed: [], vetoed: [], skipped: [], durationMs: 0 };
}
