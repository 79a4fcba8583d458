import { rmSync } from 'node:fs';
import path from 'node:path';
import type { BoardState } from '../board/index.js';
import type { EventLog } from '../events/index.js';
import type { Fleet, Gateway, WaveRunner } from '../fleet/index.js';
import {
  installRebuilt,
  moveAsideSidecars,
  passiveCheckpoint,
  probeIntegrityInThread,
  quarantineBoard,
  rebuildBoard,
  walNeedsCheckpoint,
  walSize,
  type ProbeResult,
} from '../maintenance/index.js';
import type { FleetPlan } from '../plan/index.js';
import { freeze, type BoardSteward } from '../steward/index.js';
import { runBoardInit } from './boardInit.js';
import { HOLD } from './holds.js';

export interface BoardCareDeps {
  plan: () => FleetPlan;
  fleet: Fleet;
  events: EventLog;
  waves: WaveRunner;
  steward: BoardSteward;
  health: Map<string, string>;
}

/** A probe that raced a swap is taken again once; a board swapped again meanwhile waits for the next round. */
const PROBE_ATTEMPTS = 2;

/** A checkpoint is repeated only when the WAL grew past what it was at the last one. */
interface CheckpointMark {
  walBytes: number;
}

/**
 * The supervisor as the one owner of board maintenance: staged init and migrations, integrity
 * probes, exactly-once quarantine and rebuild, and passive checkpoints. Gateways keep reading and
 * writing as before; none of them runs any of this.
 */
export class BoardCare {
  /** Boards being quarantined or held for an operator: a second corruption there starts nothing. */
  private readonly busy = new Set<string>();
  /** Boards left busy for an operator (`on_corruption: stop`, or a rebuild that failed). */
  private readonly stoppedBoards = new Set<string>();
  private readonly checkpoints = new Map<string, CheckpointMark>();
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: () => void = () => undefined;

  constructor(private readonly deps: BoardCareDeps) {}

  private get config() {
    return this.deps.plan().config;
  }

  /** Periodic work: quick_check every integrity_interval, the WAL size every poll_interval. */
  start(): void {
    this.timers.push(
      setInterval(() => {
        this.probeAll(false).catch((err: Error) => this.deps.events.emit('supervisor.error', { during: 'integrity probe', error: err.message }));
      }, this.config.health.integrity_interval),
    );
    this.timers.push(setInterval(() => this.checkpointAll(), this.config.health.poll_interval));
    // A board that appears while running is probed at once, not first at the next interval.
    this.unsubscribe = this.deps.events.subscribe((event) => {
      if (event.type !== 'board.new' || typeof event.board !== 'string') return;
      const board = this.deps.steward.boards.get(event.board);
      if (board) this.probeOne(board, false).catch((err: Error) => this.deps.events.emit('supervisor.error', { during: 'integrity probe', error: err.message }));
    });
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.unsubscribe();
  }

  /**
   * Runs `kanban.init_command` once per board, one board at a time, so schema creation and column
   * migrations happen in exactly one process. Returns the boards whose init failed.
   */
  async initAll(reason: string): Promise<string[]> {
    if (!this.config.kanban.init_command) return [];
    const failed: string[] = [];
    for (const board of this.deps.steward.boards.values()) {
      const result = await runBoardInit(this.config, board);
      this.deps.steward.check(board, 'poll');
      this.deps.events.emit(result.ok ? 'board.init' : 'board.init_failed', {
        board: board.slug,
        path: board.path,
        reason,
        code: result.code,
        signal: result.signal,
        duration_ms: result.durationMs,
        ...(result.ok ? {} : { output: result.output.slice(-1000) }),
        ...(result.error ? { error: result.error } : {}),
      });
      if (!result.ok) failed.push(board.slug);
    }
    return failed;
  }

  /** quick_check (or integrity_check) on every board; a corrupt one is quarantined and rebuilt. */
  async probeAll(full: boolean): Promise<Array<{ board: string; probe: ProbeResult }>> {
    const results: Array<{ board: string; probe: ProbeResult }> = [];
    for (const board of this.deps.steward.boards.values()) {
      const probe = await this.probeOne(board, full);
      if (probe !== null) results.push({ board: board.slug, probe });
    }
    return results;
  }

  private async probeOne(board: BoardState, full: boolean): Promise<ProbeResult | null> {
    const probe = await this.probeSteady(board, full);
    if (probe === null) return null;
    this.deps.health.set(board.slug, probe.status);
    if (probe.status === 'corrupt') await this.onCorrupt(board, probe);
    return probe;
  }

  /**
   * Probes a board on its own thread. A verdict is only kept when the board was the same file, and
   * free of other maintenance, before and after: one taken across a swap may have read the new file
   * through the old generation's -wal, and says nothing about either. Null when there is no verdict.
   */
  private async probeSteady(board: BoardState, full: boolean): Promise<ProbeResult | null> {
    for (let attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++) {
      if (this.busy.has(board.slug) || !this.unchanged(board)) return null;
      const generation = board.generation;
      const probe = await probeIntegrityInThread(board.path, { full });
      if (this.busy.has(board.slug)) return null;
      if (this.unchanged(board) && board.generation === generation) return probe;
    }
    return null;
  }

  /** Whether a board is being quarantined, rebuilt or re-initialised (or held for an operator). */
  isBusy(slug: string): boolean {
    return this.busy.has(slug);
  }

  /** Marks a board busy for one maintenance job at a time; false when another one holds it. */
  lock(slug: string): boolean {
    if (this.busy.has(slug)) return false;
    this.busy.add(slug);
    return true;
  }

  unlock(slug: string): void {
    this.busy.delete(slug);
  }

  /**
   * An operator's `restart --all` after fixing a board held by `on_corruption: stop` (or after a
   * failed rebuild or init) releases it. A board whose quarantine or init is running stays busy.
   */
  release(): string[] {
    const released = [...this.stoppedBoards];
    for (const slug of released) this.busy.delete(slug);
    this.stoppedBoards.clear();
    for (const gateway of this.deps.fleet.gateways.values()) {
      gateway.release(HOLD.corruption);
      gateway.release(HOLD.initFailed);
    }
    return released;
  }

  private async onCorrupt(board: BoardState, probe: ProbeResult): Promise<void> {
    if (this.busy.has(board.slug)) return;
    this.busy.add(board.slug);
    const { config } = this;
    this.deps.events.emit('board.corrupt', { board: board.slug, path: board.path, detail: probe.detail, code: probe.code ?? null, action: config.kanban.on_corruption });
    const gateways = this.fenceGranted();
    if (config.kanban.on_corruption === 'stop') {
      this.stoppedBoards.add(board.slug);
      this.deps.health.set(board.slug, 'corrupt: stopped');
      this.deps.events.emit('board.stopped', {
        board: board.slug,
        profiles: gateways.map((gateway) => gateway.name),
        note: 'granted gateways stay stopped until an operator fixes the board and runs `hermes-supervisor restart --all`',
      });
      return;
    }
    try {
      await Promise.all(gateways.map((gateway) => gateway.whenExited()));
      await this.quarantineAndRebuild(board);
    } catch (err) {
      // Back onto a corrupt board they would only crash or spread it: held for an operator instead.
      this.stoppedBoards.add(board.slug);
      this.deps.health.set(board.slug, 'corrupt: rebuild failed');
      this.deps.events.emit('board.rebuild_failed', {
        board: board.slug,
        error: (err as Error).message,
        note: 'granted gateways stay stopped until an operator fixes the board and runs `hermes-supervisor restart --all`',
      });
      return;
    }
    this.deps.health.set(board.slug, 'ok (rebuilt)');
    this.busy.delete(board.slug);
    const profiles = gateways.map((gateway) => gateway.name);
    for (const gateway of gateways) gateway.release(HOLD.corruption);
    void this.deps.waves.request({ profiles, reason: 'board.rebuilt', board: board.slug, mandatory: profiles, immediate: true });
  }

  /**
   * Looks at the board file once more before a connection is opened on it: a swap not yet handled
   * would pair the new file with the old generation's -wal. False when the steward just handled one.
   */
  private unchanged(board: BoardState): boolean {
    const generation = board.generation;
    this.deps.steward.check(board, 'poll');
    return board.generation === generation && board.identity !== null;
  }

  /** Freezes every granted gateway at once (any of them may open the board), then stops them, held. */
  private fenceGranted(): Gateway[] {
    const gateways = [...this.deps.fleet.gateways.values()].filter((gateway) => gateway.profile.grant && !gateway.held);
    // One already stopping got SIGCONT + SIGTERM: freezing it again would leave it stopped until the SIGKILL.
    freeze(gateways.filter((gateway) => gateway.pid !== null && gateway.state !== 'stopping').map((gateway) => ({ pid: gateway.pid!, group: true })));
    for (const gateway of gateways) {
      gateway.hold(HOLD.corruption);
      void gateway.stop();
    }
    return gateways;
  }

  private async quarantineAndRebuild(board: BoardState): Promise<void> {
    const { config } = this;
    const dir = path.join(config.state_dir, 'quarantine', board.slug);
    const copy = await quarantineBoard(board.path, { dir, slug: board.slug, keep: config.kanban.quarantine_keep });
    const temp = path.join(path.dirname(board.path), `.${path.basename(board.path)}.rebuild-${process.pid}`);
    rmSync(temp, { force: true });
    const rebuilt = rebuildBoard(board.path, temp);
    this.deps.events.emit('board.quarantine', {
      board: board.slug,
      copy: copy.path,
      copied: copy.copied,
      hash: copy.hash,
      removed: copy.removed,
      tables: rebuilt.tables,
      schema_errors: rebuilt.schemaErrors,
    });
    // The corrupt file's sidecars are in the copy; SQLite must not pair them with the rebuilt file.
    try {
      await moveAsideSidecars(board.path, dir, 'corrupt');
      installRebuilt(temp, board.path);
    } finally {
      rmSync(temp, { force: true });
    }
    this.deps.steward.check(board, 'poll');
    this.deps.events.emit('board.rebuilt', { board: board.slug, path: board.path, generation: board.generation, tables: rebuilt.tables });
  }

  /** A PASSIVE checkpoint when a board's WAL has grown past `kanban.wal_limit`; never one that blocks writers. */
  private checkpointAll(): void {
    const limit = this.config.kanban.wal_limit;
    for (const board of this.deps.steward.boards.values()) {
      if (this.busy.has(board.slug) || !this.unchanged(board)) continue;
      let bytes: number;
      try {
        bytes = walSize(board.path);
      } catch {
        continue;
      }
      const last = this.checkpoints.get(board.slug);
      if (!walNeedsCheckpoint(bytes, limit) || (last && bytes <= last.walBytes)) continue;
      try {
        const result = passiveCheckpoint(board.path);
        this.checkpoints.set(board.slug, { walBytes: bytes });
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
