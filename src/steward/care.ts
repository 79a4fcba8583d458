import { rmSync } from 'node:fs';
import path from 'node:path';
import { realBoardPath } from '../board/index.js';
import type { EventLog } from '../events/index.js';
import { HOLD, type Fleet, type WaveResult } from '../fleet/index.js';
import {
  installRebuilt,
  journalFor,
  notSqliteReason,
  passiveCheckpoint,
  probeIntegrityInThread,
  quarantineBoard,
  readHeaderInChild,
  rebuildBoard,
  sidecarPaths,
  walNeedsCheckpoint,
  walSize,
  type JournalChoice,
  type ProbeResult,
  type RebuildResult,
} from '../maintenance/index.js';
import type { FleetPlan } from '../plan/index.js';
import { quarantineDir } from '../statedir/index.js';
import { runBoardInit, type InitResult } from './boardInit.js';
import { BoardBusyError, NoInitCommandError, UnknownBoardError } from './errors.js';
import type { BoardJobs } from './jobs.js';
import { healthOf, isBusy, pathsOf, type BoardRecord, type RestatCause } from './record.js';
import type { BoardSteward } from './steward.js';

export interface BoardCareDeps {
  plan: () => FleetPlan;
  fleet: Fleet;
  events: EventLog;
  steward: BoardSteward;
  jobs: BoardJobs;
}

/** A probe that raced a swap is taken again once; a board swapped again meanwhile waits for the next round. */
const PROBE_ATTEMPTS = 2;

const OPERATOR_NOTE = 'granted gateways stay stopped until an operator fixes the board and runs `hermes-supervisor restart --all`';

/** How often WAL sizes are compared with `kanban.wal_limit` (at the poll after it): a WAL grows by megabytes, not per second. */
const WAL_LOOK_MS = 5000;

/**
 * How a quarantine and rebuild ended: installed, or refused and the file left as it was (not an
 * SQLite database, or nothing of its schema recovered), or failed.
 */
type Repair =
  | { kind: 'rebuilt'; rebuilt: RebuildResult; journal: JournalChoice }
  | { kind: 'refused'; heldFor: string; event: string; fields: Record<string, unknown> }
  | { kind: 'failed'; error: string };

export interface IntegrityReport {
  board: string;
  probe: ProbeResult;
}

export interface ReinitReport {
  board: string;
  ok: boolean;
  init: InitResult;
  integrity: ProbeResult | null;
  generation: number;
  wave: WaveResult | null;
}

/**
 * The supervisor as the one owner of board maintenance: staged init and migrations, integrity
 * probes, exactly-once quarantine and rebuild, and passive checkpoints. Gateways keep reading and
 * writing as before; none of them runs any of this. Every exclusive step is a board job.
 */
export class BoardCare {
  private timers: NodeJS.Timeout[] = [];
  private readonly probeQueue = new Set<BoardRecord>();
  private probing = false;
  private unsubscribe: () => void = () => undefined;
  private stopWalLooks: () => void = () => undefined;

  constructor(private readonly deps: BoardCareDeps) {}

  private get config() {
    return this.deps.plan().config;
  }

  private get boards(): Map<string, BoardRecord> {
    return this.deps.steward.boards;
  }

  /** Periodic work: quick_check every integrity_interval, the WAL size on the first poll after every WAL_LOOK_MS. */
  start(): void {
    this.timers.push(setInterval(() => this.probeInBackground(this.boards.values()), this.config.health.integrity_interval));
    let walLookedAt = Date.now();
    this.stopWalLooks = this.deps.steward.onPoll(() => {
      if (Date.now() - walLookedAt < WAL_LOOK_MS) return;
      walLookedAt = Date.now();
      this.checkpointAll();
    });
    this.unsubscribe = this.deps.events.subscribe((event) => {
      const board = typeof event.board === 'string' ? this.boards.get(event.board) : undefined;
      if (!board) return;
      // A board that appears while running is probed at once, not first at the next interval.
      if (event.type === 'board.new') this.probeInBackground([board]);
      // Sidecars a swap moved aside count against quarantine_keep; pruned after the renames, off the swap path.
      if (event.type === 'board.sidecars') setImmediate(() => this.deps.steward.pruneQuarantine(board));
    });
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.unsubscribe();
    this.stopWalLooks();
  }

  /**
   * Runs `kanban.init_command` once per board, one board at a time, so schema creation and column
   * migrations happen in exactly one process. Hermes migrates in place, so gateways keep running
   * beside it. Returns the boards whose init failed.
   */
  async initAll(reason: string): Promise<string[]> {
    if (!this.config.kanban.init_command) return [];
    const failed: string[] = [];
    for (const board of this.boards.values()) {
      if (isBusy(board)) {
        this.deps.events.emit('board.init_skipped', { board: board.slug, reason, busy: board.job ?? board.heldFor });
        continue;
      }
      if (!(await this.initOne(board, reason))) failed.push(board.slug);
    }
    return failed;
  }

  /**
   * The staged init of the file a swap put at a board's path, before the wave brings the fenced
   * gateways back: a board restored from an older backup has an older schema, and is migrated here,
   * once, rather than by every gateway coming back to it at once. True when they may come back: no
   * init command, the init succeeded, or the board is busy with a job or held for an operator (whose
   * holds keep its gateways down anyway).
   */
  async initSwapped(board: BoardRecord): Promise<boolean> {
    if (!this.config.kanban.init_command) return true;
    if (isBusy(board)) {
      this.deps.events.emit('board.init_skipped', { board: board.slug, reason: 'swap', busy: board.job ?? board.heldFor });
      return true;
    }
    return this.initOne(board, 'swap');
  }

  /** One board's staged init as a job beside its running gateways; reported as `board.init` or `board.init_failed`. */
  private async initOne(board: BoardRecord, reason: string): Promise<boolean> {
    const generation = board.generation;
    const { result } = await this.deps.jobs.run(board, {
      name: 'kanban init',
      hold: HOLD.kanbanInit,
      fence: false,
      reason,
      work: () => runBoardInit(this.config, board),
    });
    this.deps.events.emit(result.ok ? 'board.init' : 'board.init_failed', {
      board: board.slug,
      path: board.path,
      reason,
      generation,
      code: result.code,
      signal: result.signal,
      duration_ms: result.durationMs,
      ...(result.ok ? {} : { output: result.output.slice(-1000) }),
      ...(result.error ? { error: result.error } : {}),
    });
    return result.ok;
  }

  /**
   * An operator's re-init of one board: its granted gateways are fenced and stopped, the init runs
   * with the board's env, the file is verified, and the gateways come back in one wave whatever
   * happened (the old file is still there if the init failed).
   */
  async reinit(slug: string): Promise<ReinitReport> {
    const board = this.boards.get(slug);
    if (!board) throw new UnknownBoardError(slug, [...this.boards.keys()]);
    if (!this.config.kanban.init_command) throw new NoInitCommandError(this.config.file);
    const outcome = await this.deps.jobs.run(board, {
      name: 'kanban init',
      hold: HOLD.kanbanInit,
      fence: true,
      reason: 'kanban.init',
      work: async (_, profiles) => {
        this.deps.events.emit('kanban.init.start', { board: slug, path: board.path, profiles });
        const init = await runBoardInit(this.config, board);
        const probe = init.ok ? await probeIntegrityInThread(board.path) : null;
        return { init, probe };
      },
    });
    const { init, probe } = outcome.result;
    const ok = init.ok && probe?.status === 'ok';
    if (probe) board.health = probe.status;
    this.deps.events.emit('kanban.init.done', {
      board: slug,
      ok,
      code: init.code,
      signal: init.signal,
      integrity: probe?.status ?? null,
      generation: board.generation,
      duration_ms: init.durationMs,
      ...(init.error ? { error: init.error } : {}),
    });
    return { board: slug, ok, init, integrity: probe, generation: board.generation, wave: outcome.wave ? await outcome.wave : null };
  }

  /** quick_check (or integrity_check) on every board; a corrupt one is quarantined and rebuilt. */
  async probeAll(full: boolean, only: (board: BoardRecord) => boolean = () => true): Promise<IntegrityReport[]> {
    const results: IntegrityReport[] = [];
    for (const board of this.boards.values()) {
      if (!only(board)) continue;
      const probe = await this.probeOne(board, full);
      if (probe !== null) results.push({ board: board.slug, probe });
    }
    return results;
  }

  /**
   * What `check` reports: a fresh probe of every free board, and a board held as corrupt reported
   * as corrupt for as long as it is held.
   */
  async integrity(full: boolean): Promise<IntegrityReport[]> {
    const probed = await this.probeAll(full);
    const held = [...this.boards.values()]
      .filter((board) => board.heldFor !== null)
      .map((board) => ({ board: board.slug, probe: { status: 'corrupt' as const, detail: `${healthOf(board)}; ${OPERATOR_NOTE}`, durationMs: 0 } }));
    return [...probed.filter((report) => !held.some((entry) => entry.board === report.board)), ...held];
  }

  /**
   * An operator's `restart --all` after fixing a board held for them (a corruption with
   * `on_corruption: stop`, a failed rebuild, init or restore) releases it. Refused while any board's job runs.
   */
  release(): string[] {
    // A job in hand holds its gateways under the same holds: lifting them now would let them back mid-job.
    const working = [...this.boards.values()].find((board) => board.job !== null);
    if (working) throw new BoardBusyError(working.slug, working.job!);
    const released = [...this.boards.values()].filter((board) => board.heldFor !== null);
    for (const board of released) {
      board.heldFor = null;
      board.health = null;
    }
    for (const gateway of this.deps.fleet.gateways.values()) {
      gateway.release(HOLD.corruption);
      gateway.release(HOLD.initFailed);
      gateway.release(HOLD.restore);
    }
    return released.map((board) => board.slug);
  }

  /**
   * Probes in the background, one board at a time: a board asked for while a round runs joins it, once,
   * so a quick_check longer than integrity_interval never piles up threads.
   */
  private probeInBackground(boards: Iterable<BoardRecord>): void {
    for (const board of boards) this.probeQueue.add(board);
    if (this.probing) return;
    this.probing = true;
    void (async () => {
      for (let next = first(this.probeQueue); next !== undefined; next = first(this.probeQueue)) {
        this.probeQueue.delete(next);
        await this.probeOne(next, false);
      }
    })()
      .catch((err: Error) => void this.deps.events.emit('supervisor.error', { during: 'integrity probe', error: err.message }))
      .finally(() => {
        this.probing = false;
      });
  }

  private async probeOne(board: BoardRecord, full: boolean): Promise<ProbeResult | null> {
    const probe = await this.probeSteady(board, full);
    if (probe === null) return null;
    board.health = probe.status;
    if (probe.journalMode !== undefined) board.journal = { mode: probe.journalMode, generation: board.generation };
    if (probe.status === 'corrupt') await this.onCorrupt(board, probe);
    return probe;
  }

  /**
   * Probes a board on its own thread. A verdict is only kept when the board was the same file, and
   * free of other maintenance, before and after: one taken across a swap may have read the new file
   * through the old generation's -wal, and says nothing about either. Null when there is no verdict.
   */
  private async probeSteady(board: BoardRecord, full: boolean): Promise<ProbeResult | null> {
    for (let attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++) {
      if (isBusy(board) || !this.unchanged(board, 'probe')) return null;
      const generation = board.generation;
      const probe = await probeIntegrityInThread(board.path, { full });
      if (isBusy(board)) return null;
      if (this.unchanged(board, 'probe') && board.generation === generation) return probe;
    }
    return null;
  }

  private async onCorrupt(board: BoardRecord, probe: ProbeResult): Promise<void> {
    if (isBusy(board)) return;
    const { config } = this;
    this.deps.events.emit('board.corrupt', { board: board.slug, ...pathsOf(board), detail: probe.detail, code: probe.code ?? null, action: config.kanban.on_corruption });
    if (config.kanban.on_corruption === 'stop') {
      const { profiles } = await this.deps.jobs.run(board, {
        name: 'hold for an operator',
        hold: HOLD.corruption,
        fence: true,
        reason: 'board.corrupt',
        work: async () => undefined,
        heldFor: () => 'corrupt: stopped',
      });
      this.deps.events.emit('board.stopped', { board: board.slug, profiles, note: OPERATOR_NOTE });
      return;
    }
    const { result } = await this.deps.jobs.run(board, {
      name: 'quarantine and rebuild',
      hold: HOLD.corruption,
      fence: true,
      reason: 'board.rebuilt',
      work: () => this.quarantineAndRebuild(board).catch((err: Error): Repair => ({ kind: 'failed', error: err.message })),
      // Back onto a board that was not rebuilt they would only crash or spread the damage: held for an operator instead.
      heldFor: (repair) => (repair.kind === 'rebuilt' ? null : repair.kind === 'refused' ? repair.heldFor : 'corrupt: rebuild failed'),
    });
    if (result.kind === 'failed') {
      this.deps.events.emit('board.rebuild_failed', { board: board.slug, error: result.error, note: OPERATOR_NOTE });
      return;
    }
    if (result.kind === 'refused') {
      this.deps.events.emit(result.event, { board: board.slug, path: board.path, ...result.fields, note: OPERATOR_NOTE });
      return;
    }
    board.health = 'ok (rebuilt)';
    board.journal = { mode: result.journal.mode, generation: board.generation };
    this.deps.events.emit('board.rebuilt', {
      board: board.slug,
      ...pathsOf(board),
      generation: board.generation,
      tables: result.rebuilt.tables,
      journal_mode: result.journal.mode,
      ...(result.journal.note === undefined ? {} : { journal_note: result.journal.note }),
    });
  }

  /**
   * Looks at the board file once more before a connection is opened on it: a swap not yet handled
   * would pair the new file with the old generation's -wal. False when the steward just handled one.
   */
  private unchanged(board: BoardRecord, cause: RestatCause): boolean {
    const generation = board.generation;
    this.deps.steward.check(board, cause);
    return board.generation === generation && board.identity !== null;
  }

  /**
   * Only a file that says it is an SQLite database is rebuilt, and only a rebuild that recovered some
   * of its schema is installed: anything else (a file configured by mistake, a header overwritten) is
   * left byte for byte as it was, and the board held for an operator.
   */
  private async quarantineAndRebuild(board: BoardRecord): Promise<Repair> {
    const { config } = this;
    const read = await readHeaderInChild(board.path);
    if (!read.ok) return { kind: 'failed', error: `${read.error}; the file was left as it was` };
    if (read.header.kind === 'not_sqlite') {
      const found = notSqliteReason(read.header.prefix);
      return { kind: 'refused', heldFor: found, event: 'board.not_sqlite', fields: { found } };
    }
    const journal = journalFor(read.header);
    // The rebuilt file replaces this one: its workers are ended as a restore ends them, before the copy.
    await this.deps.steward.endWorkers(board, 'quarantine and rebuild');
    const dir = quarantineDir(config.state_dir, board.slug);
    const copy = await quarantineBoard(board.path, { dir, slug: board.slug, keep: config.kanban.quarantine_keep });
    // Beside the real file of a symlinked board: the install renames over that file, never over the link.
    const temp = path.join(path.dirname(realBoardPath(board.path)), `.${path.basename(board.path)}.rebuild-${process.pid}`);
    const removeTemp = () => [temp, ...sidecarPaths(temp)].forEach((file) => rmSync(file, { force: true }));
    removeTemp();
    try {
      const rebuilt = rebuildBoard(board.path, temp, { journal: journal.mode });
      this.deps.events.emit('board.quarantine', {
        board: board.slug,
        ...pathsOf(board),
        copy: copy.path,
        copied: copy.copied,
        hash: copy.hash,
        removed: copy.removed,
        tables: rebuilt.tables,
        schema_errors: rebuilt.schemaErrors,
        journal_mode: journal.mode,
      });
      if (Object.keys(rebuilt.tables).length === 0) {
        const error = 'the rebuild recovered no tables; nothing was installed and the file was left as it was';
        return { kind: 'refused', heldFor: 'corrupt: rebuild recovered no tables', event: 'board.rebuild_failed', fields: { error, copy: copy.path } };
      }
      // SQLite must not pair the corrupt file's sidecars with the rebuilt file. Their bytes are in the
      // copy's set; moved aside as a set of their own they could push that copy out of a small
      // quarantine_keep. The board's gateways are stopped for this job.
      for (const sidecar of sidecarPaths(board.realPath)) rmSync(sidecar, { force: true });
      installRebuilt(temp, board.path, { journal: journal.mode });
      this.deps.steward.pruneQuarantine(board);
      return { kind: 'rebuilt', rebuilt, journal };
    } finally {
      removeTemp();
    }
  }

  /**
   * A PASSIVE checkpoint when a board's WAL has grown past `kanban.wal_limit`; never one that blocks
   * writers. The look rides on the poll, which has just stat'ed every board: one stat of each WAL,
   * and a re-stat of the board only before a checkpoint opens it.
   */
  private checkpointAll(): void {
    const limit = this.config.kanban.wal_limit;
    for (const board of this.boards.values()) {
      if (isBusy(board)) continue;
      let bytes: number;
      try {
        bytes = walSize(board.path, board.realPath);
      } catch {
        continue;
      }
      const last = board.checkpointedWalBytes;
      if (!walNeedsCheckpoint(bytes, limit) || (last !== null && bytes <= last)) continue;
      if (!this.unchanged(board, 'poll')) continue;
      try {
        const result = passiveCheckpoint(board.path);
        board.checkpointedWalBytes = bytes;
        this.deps.events.emit('board.checkpoint', {
          board: board.slug,
          wal_bytes: bytes,
          limit_bytes: limit,
          log_frames: result.logFrames,
          checkpointed: result.checkpointed,
          busy: result.busy,
          duration_ms: Math.round(result.durationMs),
        });
      } catch (err) {
        this.deps.events.emit('board.checkpoint_failed', { board: board.slug, error: (err as Error).message });
      }
    }
  }
}

const first = <T>(set: ReadonlySet<T>): T | undefined => set.values().next().value;
