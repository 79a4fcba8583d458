import { performance } from 'node:perf_hooks';
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
  /** Profiles that must come back whatever a hook says: they were fenced off a replaced board. */
  mandatory?: Iterable<string>;
  /** Start the wave now instead of after the debounce window. */
  immediate?: boolean;
  /** Restart by SIGUSR1 (Hermes drains, exits 75) rather than by a planned stop; see WaveQueue.graceful. */
  graceful?: boolean;
}

export interface WaveOptions {
  maxParallel: number;
  debounceMs: number;
  /** Asked before each restart; false vetoes it (ignored for mandatory restarts, which are reported). */
  approve?: (profile: string, reason: string, pid: number | null) => Promise<boolean>;
  /** Told after each restart that came back ready. */
  restarted?: (profile: string, reason: string, pid: number | null) => void;
}

/**
 * Coordinated rolling restarts: `max_parallel` gateways at a time, each batch ready before the next.
 * Requests inside the debounce window coalesce into one wave; a request during a wave re-plans it.
 */
export class WaveRunner {
  /** The wave being gathered (debouncing) or run, with the callers waiting for its result. */
  private wave: { queue: WaveQueue; waiters: Array<(result: WaveResult) => void>; running: boolean } | null = null;
  private readonly mandatory = new Set<string>();
  private debounceTimer: NodeJS.Timeout | undefined;
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
    const added = wave.queue.add(request.profiles, request.reason, request.board, request.graceful === true);
    if (wave.running) {
      this.events.emit('wave.replan', { board: request.board ?? null, added, reason: request.reason, ...gracefulField(request.graceful === true) });
    } else {
      clearTimeout(this.debounceTimer);
      this.debounceTimer = setTimeout(() => this.begin(), request.immediate ? 0 : this.options.debounceMs);
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
    this.events.emit('wave.start', {
      board: boards()[0] ?? null,
      boards: boards(),
      profiles: [...queue.profiles],
      reason: [...queue.reasons].join(','),
      max_parallel: this.options.maxParallel,
      ...gracefulField(queue.graceful.size > 0),
    });
    // Sets: a profile fenced again by a swap during the wave is restarted twice but listed once.
    const restarted = new Set<string>();
    const failed = new Set<string>();
    const vetoed = new Set<string>();
    const skipped = new Set<string>();
    while (queue.size > 0 && !this.closed) {
      const batch = queue.nextBatch(this.options.maxParallel);
      const reason = [...queue.reasons].join(',');
      await Promise.all(
        batch.map(async (profile) => {
          const outcome = await this.restartOne(profile, reason, queue.graceful.has(profile));
          for (const set of [restarted, failed, vetoed, skipped]) set.delete(profile);
          ({ ready: restarted, vetoed, failed, skipped })[outcome].add(profile);
        }),
      );
    }
    const result: WaveResult = {
      boards: boards(),
      profiles: [...queue.profiles],
      reasons: [...queue.reasons],
      restarted: [...restarted],
      failed: [...failed],
      vetoed: [...vetoed],
      skipped: [...skipped],
      durationMs: Math.round(performance.now() - started),
    };
    this.events.emit('wave.done', {
      board: result.boards[0] ?? null,
      boards: result.boards,
      profiles: result.profiles,
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
  private async restartOne(profile: string, reason: string, graceful: boolean): Promise<'ready' | 'failed' | 'vetoed' | 'skipped'> {
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
