import type { GatewayState, WaveResult, WaveRunner } from '../fleet/index.js';
import { BoardBusyError } from './errors.js';
import { freeze } from './fence.js';
import type { BoardRecord } from './record.js';

/** One exclusive piece of work on a board: an init, a quarantine and rebuild, a hold for an operator. */
export interface BoardJob<T> {
  /** Named in events (`job`) and in refusals of a second job. */
  name: string;
  /** The hold put on the gateways stopped for the job. */
  hold: string;
  /** Stop every granted gateway first (any of them may open the board); false runs beside them. */
  fence: boolean;
  /** The reason the wave that brings the gateways back gives. */
  reason: string;
  /** Runs once the gateways named are stopped. */
  work(record: BoardRecord, stopped: string[]): Promise<T>;
  /**
   * After the work: why the board stays held for an operator (its gateways stay down), or null.
   * `previous` is the hold a `takeOver` job found the board under.
   */
  heldFor?(result: T, previous: string | null): string | null;
  /**
   * Runs on a board held for an operator too, taking that hold over: when the board ends up unheld,
   * the gateways held down under `lifts` are released and come back in the job's wave. A job that
   * throws leaves the hold it found.
   */
  takeOver?: { lifts: readonly string[] };
}

export interface JobOutcome<T> {
  result: T;
  /** The gateways stopped for the job. */
  profiles: string[];
  /** The wave bringing them back; null when none was needed or the board is held. */
  wave: Promise<WaveResult> | null;
}

/** What a job needs of a gateway: the fleet's Gateway, or a small stand-in in tests. */
export interface JobGateway {
  readonly name: string;
  readonly profile: { grant: boolean };
  readonly held: boolean;
  readonly state: GatewayState;
  readonly pid: number | null;
  /** When it was last spawned; null for one never started (the supervisor is still starting). */
  readonly startedAt: number | null;
  hold(reason: string): void;
  release(reason: string): void;
  stop(): Promise<void>;
}

export interface BoardJobsDeps {
  fleet: { readonly gateways: ReadonlyMap<string, JobGateway> };
  waves: Pick<WaveRunner, 'request'>;
  /** The steward's look at the board's files once the work is done: the job's own swap is seen as such. */
  restat(record: BoardRecord): void;
}

/**
 * The one place an exclusive job runs on a board: fence, hold, stop, do the work, re-stat, release,
 * request the wave. A second job waits for one running beside the gateways (a staged init: short,
 * bounded by its timeout, started by the supervisor at a moment the operator cannot see) and is
 * refused while any other job runs, or while the board is held unless it takes that hold over; it is
 * never run beside the first.
 */
export class BoardJobs {
  private readonly beside = new Map<BoardRecord, Promise<void>>();

  constructor(private readonly deps: BoardJobsDeps) {}

  async run<T>(record: BoardRecord, job: BoardJob<T>): Promise<JobOutcome<T>> {
    // Looked at again after each wait: another job may have started in the turns between.
    while (this.beside.has(record)) await this.settled(record);
    const previous = record.heldFor;
    if (record.job !== null || (previous !== null && !job.takeOver)) throw new BoardBusyError(record.slug, record.job ?? previous ?? 'busy');
    record.heldFor = null;
    record.job = job.name;
    let ended = () => {};
    if (!job.fence) this.beside.set(record, new Promise<void>((resolve) => (ended = resolve)));
    const gateways = job.fence ? this.grantedRunnable() : [];
    // A gateway never started (the supervisor is starting) is started by the fleet, not by this job's
    // wave; one fenced off the board before the job began comes back with the rest.
    const comeBack = gateways.filter((gateway) => gateway.startedAt !== null).map((gateway) => gateway.name);
    // Frozen at once; one already stopping got SIGCONT + SIGTERM and is only waited for.
    freeze(gateways.filter((gateway) => gateway.pid !== null && gateway.state !== 'stopping').map((gateway) => ({ pid: gateway.pid!, group: true })));
    // Held, so neither backoff nor a wave started by the job's own swap brings them back mid-job.
    for (const gateway of gateways) gateway.hold(job.hold);
    let heldFor = previous;
    let wave: Promise<WaveResult> | null = null;
    let result: T;
    try {
      await Promise.all(gateways.map((gateway) => gateway.stop()));
      result = await job.work(record, gateways.map((gateway) => gateway.name));
      heldFor = job.heldFor?.(result, previous) ?? null;
    } finally {
      // Take the file's identity now rather than at the next event, so the wave lands on it.
      this.deps.restat(record);
      record.job = null;
      this.beside.delete(record);
      ended();
      if (heldFor !== null) {
        record.heldFor = heldFor;
      } else {
        for (const gateway of gateways) gateway.release(job.hold);
        if (previous !== null) comeBack.push(...this.lift(job.takeOver?.lifts ?? [], comeBack));
        if (comeBack.length > 0) {
          wave = this.deps.waves.request({ profiles: comeBack, reason: job.reason, board: record.slug, mandatory: comeBack, immediate: true });
        }
      }
    }
    return { result, profiles: gateways.map((gateway) => gateway.name), wave };
  }

  /** Resolves once no job runs beside the board's gateways. */
  async settled(record: BoardRecord): Promise<void> {
    for (let running = this.beside.get(record); running; running = this.beside.get(record)) await running;
  }

  /** Releases `holds` on granted gateways held down under them; returns those now free to come back. */
  private lift(holds: readonly string[], already: readonly string[]): string[] {
    const freed: string[] = [];
    for (const gateway of this.deps.fleet.gateways.values()) {
      if (!gateway.profile.grant || !gateway.held || already.includes(gateway.name)) continue;
      for (const hold of holds) gateway.release(hold);
      if (!gateway.held && gateway.pid === null && gateway.startedAt !== null) freed.push(gateway.name);
    }
    return freed;
  }

  /**
   * Granted gateways that run or may start: a held one that still runs (held after a failed init,
   * say) is stopped for the job too; one held down (an operator's stop) stays as it is.
   */
  private grantedRunnable(): JobGateway[] {
    return [...this.deps.fleet.gateways.values()].filter((gateway) => gateway.profile.grant && (gateway.pid !== null || !gateway.held));
  }
}
