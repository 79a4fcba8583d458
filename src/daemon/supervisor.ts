import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/index.js';
import { findHostHolders, holderTargets, processStartTime, tiedOwner, type Holder } from '../board/index.js';
import {
  AlreadyRunningError,
  ControlError,
  dispatchTable,
  startControlServer,
  type CheckReport,
  type CommandHandlers,
  type ControlServer,
  type KanbanInitResult,
  type KanbanJournalModeResult,
  type KanbanRestoreResult,
  type ResultOf,
  type StatusReport,
  type ValidArgsOf,
} from '../control/index.js';
import { EventLog, formatEvent } from '../events/index.js';
import { escapeControl, parseSize } from '../util/index.js';
import { Fleet, HeartbeatWatch, HOLD, WaveRunner, type Echo, type WaveResult } from '../fleet/index.js';
import { fleetView, outsideReport } from '../outside/index.js';
import { buildPlan, diffPlans, type FleetPlan, type PlanDiff } from '../plan/index.js';
import type { ProbeResult } from '../maintenance/index.js';
import { forgetGateway, gatewaysFile, reapLeftovers, recordGateway, removeDeadTemps } from '../recovery/index.js';
import {
  deniedHome,
  ensureStateDir,
  lockStateDir,
  readInstanceRecord,
  removeInstanceRecord,
  StateDirLockedError,
  writeInstanceRecord,
  type InstanceLock,
} from '../statedir/index.js';
import {
  BoardBusyError,
  BoardCare,
  BoardHeldError,
  BoardJobs,
  BoardRestore,
  BoardSteward,
  JournalRefusedError,
  JournalSwitch,
  NoInitCommandError,
  RestoreRefusedError,
  UnknownBoardError,
  WalRiskWatch,
  type InitResult,
} from '../steward/index.js';
import { SqliteRuntimes } from '../sqlite/index.js';
import { wireHooks } from './hookWiring.js';
import { statusReport } from './status.js';
import { ReloadRejected, type SupervisorVerbs } from './verbs.js';

export interface SupervisorOptions {
  /** Where gateway output lines and event summaries go; false when a line was dropped (a stalled reader). */
  print: Echo;
  /** The control socket's commands over this supervisor's verbs. */
  commands: (verbs: SupervisorVerbs) => CommandHandlers;
}

/** The board verbs' refusals as the control errors the CLI maps to exit codes. */
function asControlError<T>(verb: () => T): T {
  const mapped = (err: unknown): never => {
    if (err instanceof UnknownBoardError) throw new ControlError('unknown_board', err.message);
    if (err instanceof NoInitCommandError) throw new ControlError('no_init_command', err.message);
    if (err instanceof BoardBusyError) throw new ControlError('board_busy', err.message);
    if (err instanceof BoardHeldError) throw new ControlError('board_held', err.message);
    if (err instanceof JournalRefusedError || err instanceof RestoreRefusedError) throw new ControlError('refused', err.message);
    throw err;
  };
  try {
    const result = verb();
    return (result instanceof Promise ? result.catch(mapped) : result) as T;
  } catch (err) {
    return mapped(err);
  }
}

/** What a board verb's reply says of the init it ran. */
function initSummary(init: InitResult): KanbanInitResult['init'] {
  return { code: init.code, signal: init.signal, output: init.output, duration_ms: init.durationMs, error: init.error ?? null };
}

/** What a board verb's reply says of the check it ran on the file; null when none ran. */
function probeSummary(probe: ProbeResult | null): KanbanInitResult['integrity'] {
  return probe ? { status: probe.status, detail: probe.detail } : null;
}

/** What a board verb's reply says of the wave that brought its gateways back (none: all empty). */
function waveSummary(wave: WaveResult | null): KanbanInitResult['wave'] {
  return { restarted: wave?.restarted ?? [], failed: wave?.failed ?? [], vetoed: wave?.vetoed ?? [], duration_ms: wave?.durationMs ?? 0 };
}

/** The one owner process on a host: runs the fleet of a plan and records every state change. */
export class Supervisor implements SupervisorVerbs {
  readonly events: EventLog;
  readonly fleet: Fleet;
  readonly waves: WaveRunner;
  readonly steward: BoardSteward;
  readonly care: BoardCare;
  readonly heartbeats: HeartbeatWatch;
  readonly walRisk: WalRiskWatch;
  private readonly journalSwitch: JournalSwitch;
  private readonly restore: BoardRestore;
  readonly startedAt = new Date();
  /** Resolves once a shutdown, however it began, is over. */
  readonly stopped: Promise<void>;
  private markStopped: () => void = () => undefined;
  private control: ControlServer | null = null;
  private lock: InstanceLock | null = null;
  private stopping: Promise<void> | null = null;
  private reloading: Promise<PlanDiff> | null = null;
  private readonly startTimes = new Map<number, number>();
  /** False while the start reaps leftovers and probes and initialises boards: commands that act wait. */
  private boardsReady = false;

  constructor(
    public plan: FleetPlan,
    private readonly options: SupervisorOptions,
  ) {
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
    const { config } = plan;
    ensureStateDir(config.state_dir);
    // logs.max_size is validated as a size by the schema.
    this.events = new EventLog(config.state_dir, { maxBytes: parseSize(config.logs.max_size)!, keep: config.logs.keep });
    this.events.subscribe((event) => options.print(`supervisor | ${escapeControl(formatEvent(event))}`));
    this.fleet = new Fleet(plan, {
      events: this.events,
      echo: options.print,
      lifecycle: {
        spawned: (profile, pid) => this.recordSpawn(profile, pid),
        exited: (profile, pid) => this.recordExit(profile, pid),
      },
    });
    this.heartbeats = new HeartbeatWatch(() => this.fleet.gateways.values(), this.events, config.health.heartbeat_stale_after);
    const hooks = wireHooks(() => this.plan.config, this.events);
    this.waves = new WaveRunner(this.fleet, this.events, {
      maxParallel: config.restart.max_parallel,
      fencedParallel: config.restart.fenced_parallel,
      debounceMs: config.restart.debounce,
      approve: hooks.approveRestart,
      restarted: hooks.restarted,
    });
    this.steward = new BoardSteward({
      plan,
      fleet: this.fleet,
      events: this.events,
      waves: this.waves,
      // BoardCare owns the init; it is built just below, and asked only once a swap happens.
      initSwapped: (record) => this.care.initSwapped(record),
    });
    const jobs = new BoardJobs({ fleet: this.fleet, waves: this.waves, restat: (record) => this.steward.check(record, 'job') });
    this.care = new BoardCare({ plan: () => this.plan, fleet: this.fleet, events: this.events, steward: this.steward, jobs });
    // One cache of SQLite versions: the risk watch and the journal switch look at the same processes.
    const runtimes = new SqliteRuntimes();
    this.walRisk = new WalRiskWatch({ steward: this.steward, events: this.events, runtimes });
    this.journalSwitch = new JournalSwitch({ steward: this.steward, jobs, fleet: this.fleet, events: this.events, runtimes });
    this.restore = new BoardRestore({ plan: () => this.plan, steward: this.steward, jobs, events: this.events });
  }

  /**
   * Locks the state dir and takes the control socket (refusing to run beside another supervisor),
   * stops gateways a killed predecessor left behind, then starts the fleet.
   */
  async start(): Promise<void> {
    const { config } = this.plan;
    this.lock = this.lockStateDir();
    const removed = removeDeadTemps(config.state_dir, this.plan.boards.map((board) => board.path), [path.dirname(config.control.socket)]);
    try {
      writeInstanceRecord(config.state_dir, {
        pid: process.pid,
        started_at: this.startedAt.toISOString(),
        config: config.file,
        socket: config.control.socket,
      });
      this.control = await startControlServer({
        socketPath: config.control.socket,
        commands: dispatchTable(this.options.commands(this)),
        onError: (err) => this.events.emit('control.error', { error: err.message }),
      });
    } catch (err) {
      // A state dir that cannot be written (a full disk) must not leave a killed predecessor's
      // gateways running unsupervised: they are stopped before the start fails.
      if (!(err instanceof AlreadyRunningError)) await reapLeftovers(config.state_dir, { stopTimeoutMs: config.restart.stop_timeout, events: this.events });
      throw err;
    }
    this.events.emit('supervisor.start', {
      pid: process.pid,
      config: config.file,
      state_dir: config.state_dir,
      socket: config.control.socket,
      profiles: this.plan.profiles.filter((profile) => profile.enabled).map((profile) => profile.name),
    });
    if (removed.length > 0) this.events.emit('supervisor.cleanup', { removed });
    await reapLeftovers(config.state_dir, { stopTimeoutMs: config.restart.stop_timeout, events: this.events });
    this.prepareDeniedHomes(this.plan);
    // Board identities are known, and every board probed, initialised and migrated, before any gateway
    // opens one. The probe comes first: a corrupt board is quarantined and rebuilt from the file as
    // found, before an init's connection folds a WAL into it. A board the init created is probed then.
    // A signal during any step ends the start there: nothing is started after a shutdown began.
    const steps = [
      () => this.walRisk.start(),
      () => this.steward.start(),
      () => this.care.probeAll(false),
      () => this.initBoards('start'),
      () => this.care.probeAll(false, (board) => board.health === null),
      () => this.care.start(),
      () => {
        // From here commands may act: leftovers are gone and every board is probed and initialised.
        this.boardsReady = true;
      },
      () => this.heartbeats.start((listener) => this.steward.onPoll(listener)),
      () => this.fleet.startAll(),
    ];
    for (const step of steps) {
      if (this.shuttingDown) return;
      await step();
    }
  }

  /** Stops every gateway (in parallel, each within its stop_timeout); safe to call more than once. */
  shutdown(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.events.emit('supervisor.stopping', { pid: process.pid, reason });
      this.waves.close();
      this.care.stop();
      this.walRisk.stop();
      this.heartbeats.stop();
      // Each step runs whatever the one before it did: the gateways must be stopped in any case.
      const steps = [
        () => this.steward.stop(),
        () => this.fleet.stopAll(),
        () => this.control?.close(),
        () => this.releaseStateDir(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (err) {
          this.events.emit('supervisor.error', { during: 'shutdown', error: (err as Error).message });
        }
      }
      this.events.emit('supervisor.stop', { pid: process.pid, reason });
      this.markStopped();
    })();
    return this.stopping;
  }

  /** A state dir locked by another supervisor is refused like a live socket: naming the one running. */
  private lockStateDir(): InstanceLock {
    const { config } = this.plan;
    try {
      return lockStateDir(config.state_dir);
    } catch (err) {
      if (!(err instanceof StateDirLockedError)) throw err;
      const running = readInstanceRecord(config.state_dir);
      throw new AlreadyRunningError(running?.socket ?? config.control.socket, running?.pid ?? null, running?.started_at ?? null);
    }
  }

  /** Last of all: the next supervisor may take the state dir once every gateway is gone. */
  private releaseStateDir(): void {
    if (this.lock === null) return;
    removeInstanceRecord(this.plan.config.state_dir, process.pid);
    this.lock.release();
    this.lock = null;
  }

  get shuttingDown(): boolean {
    return this.stopping !== null;
  }

  /**
   * Re-reads every config: starts added profiles, stops removed ones, and restarts in a wave only
   * those whose command, env or grant changed. An invalid config is rejected whole.
   */
  reload(): Promise<PlanDiff> {
    this.refuseWhileStarting();
    this.reloading ??= this.applyReload().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async applyReload(): Promise<PlanDiff> {
    const before = this.plan;
    let plan: FleetPlan;
    try {
      plan = buildPlan(loadConfig(before.config.file));
      if (plan.config.state_dir !== before.config.state_dir || plan.config.control.socket !== before.config.control.socket) {
        throw new Error(`${plan.config.file}: state_dir and control.socket cannot change on reload; restart the supervisor`);
      }
    } catch (err) {
      const message = (err as Error).message;
      this.events.emit('supervisor.reload_rejected', { error: message });
      throw new ReloadRejected(message);
    }
    const diff = diffPlans(before, plan);
    this.plan = plan;
    this.prepareDeniedHomes(plan);
    this.fleet.setPlan(plan);
    await this.steward.setPlan(plan);
    this.waves.setOptions({
      maxParallel: plan.config.restart.max_parallel,
      fencedParallel: plan.config.restart.fenced_parallel,
      debounceMs: plan.config.restart.debounce,
    });
    this.heartbeats.setStaleAfter(plan.config.health.heartbeat_stale_after);
    await Promise.all(diff.removed.map((name) => this.fleet.remove(name)));
    const added = diff.added.map((profile) => this.fleet.add(profile));
    this.events.emit('supervisor.reload', {
      added: diff.added.map((profile) => profile.name),
      removed: diff.removed,
      changed: diff.changed.map((profile) => profile.name),
    });
    if (diff.changed.some((profile) => before.profiles.find((old) => old.name === profile.name)?.command.join('\0') !== profile.command.join('\0'))) {
      // A new command is an upgrade: migrations run once, before any new gateway starts.
      await this.initBoards('upgrade');
    }
    for (const gateway of added) if (!gateway.held) gateway.start();
    if (diff.changed.length > 0) {
      void this.waves.request({ profiles: diff.changed.map((profile) => profile.name), reason: 'reload', immediate: true });
    }
    return diff;
  }

  /**
   * Runs the staged init of every board. A board whose init failed keeps every granted gateway from
   * starting (any of them may open it); denied ones still run.
   */
  async initBoards(reason: string): Promise<string[]> {
    const failed = await this.care.initAll(reason);
    if (failed.length === 0) return failed;
    const held = [...this.fleet.gateways.values()].filter((gateway) => gateway.profile.grant);
    for (const gateway of held) gateway.hold(HOLD.initFailed);
    this.events.emit('supervisor.held', {
      profiles: held.map((gateway) => gateway.name),
      reason: `kanban.init_command failed for board ${failed.join(', ')}`,
      note: 'fix the board, then run `hermes-supervisor restart --all`',
    });
    return failed;
  }

  profileNames(): string[] {
    return [...this.fleet.gateways.keys()];
  }

  boardNames(): string[] {
    return [...this.steward.boards.keys()];
  }

  status(): StatusReport {
    return statusReport({ startedAt: this.startedAt, plan: this.plan, fleet: this.fleet, steward: this.steward, heartbeats: this.heartbeats, walRisk: this.walRisk });
  }

  /**
   * A command that starts, stops or re-inits anything is refused while the start is still reaping a
   * killed predecessor's leftovers and probing boards: what it started would be reaped as a leftover,
   * or open a board not yet probed.
   */
  private refuseWhileStarting(): void {
    if (!this.boardsReady) {
      throw new ControlError('starting', 'the supervisor is still starting (stopping leftovers, probing and initialising boards); try again in a moment');
    }
  }

  async restartGateways(request: ValidArgsOf<'restart'>): Promise<ResultOf<'restart'>> {
    this.refuseWhileStarting();
    let profiles = [...request.profiles];
    if (request.all) {
      // After an operator fixed a board held by on_corruption: stop, or before an upgrade's restart:
      // release held boards and run the staged init once per board before the wave.
      asControlError(() => this.care.release());
      await this.initBoards('restart --all');
      profiles = this.profileNames();
    }
    if (request.stale) profiles.push(...this.steward.staleHolders().map((holder) => holder.owner));
    profiles = [...new Set(profiles)];
    const reason = request.reason?.trim() || 'manual';
    const { graceful } = request;
    const wave = this.waves.request({ profiles, reason, immediate: true, graceful });
    if (!request.wait || profiles.length === 0) return { profiles, reason, graceful, wave: null };
    const result = await wave;
    return { profiles, reason, graceful, wave: { restarted: result.restarted, failed: result.failed, vetoed: result.vetoed, skipped: result.skipped, duration_ms: result.durationMs } };
  }

  async stopGateways(profiles: string[]): Promise<ResultOf<'stop'>> {
    this.refuseWhileStarting();
    const gateways = profiles.map((name) => this.fleet.get(name)!);
    const wasDown = gateways.filter((gateway) => !gateway.alive).map((gateway) => gateway.name);
    for (const gateway of gateways) gateway.hold(HOLD.operator);
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    return { stopped: profiles.filter((name) => !wasDown.includes(name)), already_stopped: wasDown };
  }

  async startGateways(profiles: string[]): Promise<ResultOf<'start'>> {
    this.refuseWhileStarting();
    const gateways = profiles.map((name) => this.fleet.get(name)!);
    const running = gateways.filter((gateway) => gateway.alive && gateway.state !== 'stopping');
    const blocked: string[] = [];
    const startable = [];
    for (const gateway of gateways) {
      gateway.release(HOLD.operator);
      if (running.includes(gateway)) continue;
      // A gateway held for a board's maintenance starts when that is done, not before.
      if (gateway.held) blocked.push(`${gateway.name} (held: ${[...gateway.holds].join(', ')})`);
      else startable.push(gateway);
    }
    for (const gateway of startable) gateway.start('operator');
    const ready = await Promise.all(startable.map((gateway) => gateway.waitReady()));
    return {
      started: startable.filter((_, index) => ready[index]).map((gateway) => gateway.name),
      already_running: running.map((gateway) => gateway.name),
      failed: [...startable.filter((_, index) => !ready[index]).map((gateway) => gateway.name), ...blocked],
    };
  }

  /** Re-initialises one board as a job: its gateways fenced, stopped, and brought back in one wave. */
  async reinitBoard(slug: string): Promise<KanbanInitResult> {
    this.refuseWhileStarting();
    const report = await asControlError(() => this.care.reinit(slug));
    const { init, integrity, wave } = report;
    return {
      board: report.board,
      ok: report.ok,
      init: initSummary(init),
      integrity: probeSummary(integrity),
      generation: report.generation,
      wave: waveSummary(wave),
    };
  }

  /** Switches one board's journal mode as a job: its gateways stopped, the pragma applied and read back from the header, one wave. */
  async switchJournalMode(request: ValidArgsOf<'kanban_journal_mode'>): Promise<KanbanJournalModeResult> {
    this.refuseWhileStarting();
    const report = await asControlError(() => this.journalSwitch.run(request.board, request.mode, request.force));
    const { wave, integrity } = report;
    return {
      board: report.board,
      from: report.from,
      mode: report.mode,
      changed: report.changed,
      ok: report.ok,
      header: report.header,
      integrity: probeSummary(integrity),
      error: report.error,
      profiles: report.profiles,
      wave: waveSummary(wave),
    };
  }

  /** Replaces one board with a backup as a job: every holder stopped first, the old file kept, one wave. */
  async restoreBoard(request: ValidArgsOf<'kanban_restore'>): Promise<KanbanRestoreResult> {
    this.refuseWhileStarting();
    const report = await asControlError(() => this.restore.run(request.board, request.file));
    const { init, integrity, wave } = report;
    return {
      board: report.board,
      source: report.source,
      ok: report.ok,
      journal_mode: report.journal,
      kept: report.kept,
      init: init ? initSummary(init) : null,
      integrity: probeSummary(integrity),
      error: report.error,
      generation: report.generation,
      profiles: report.profiles,
      workers: report.workers.map(({ pid, task, runId, signal, result }) => ({ pid, task, run_id: runId, signal, result })),
      wave: waveSummary(wave),
    };
  }

  /**
   * A thorough look at every board: holders through fds and maps, the stale ones, those breaking the
   * grant policy, holders outside the fleet, and each board's integrity (a board held as corrupt
   * reads as corrupt for as long as it is held); then Hermes gateways started outside the supervisor.
   */
  async check(full: boolean): Promise<CheckReport> {
    this.refuseWhileStarting();
    // An operator's check can afford the maps: it also finds a mapping kept after every fd closed.
    const audit = this.steward.audit({ maps: true });
    const exclude = new Set<number>([process.pid]);
    for (const gateway of this.fleet.gateways.values()) if (gateway.pid) exclude.add(gateway.pid);
    // Beyond the gateways' trees: processes carrying the supervisor's marks (a double fork, a kanban
    // worker) are its own holders; the rest are foreign.
    const host = findHostHolders(holderTargets(this.steward.boards.values()), exclude, this.plan.config.state_dir, { maps: true }).filter(
      (holder) => !audit.holders.some((own) => own.pid === holder.pid),
    );
    const gatewayOf = (pid: number) => [...this.fleet.gateways.values()].find((gateway) => gateway.pid === pid)?.name;
    const tied: Holder[] = host.flatMap(({ tie, owner, pid, board, generation, role, via }) =>
      tie === null ? [] : [{ owner: tiedOwner(tie, owner.replace(/^pid:/, ''), gatewayOf), pid, board, generation, role, via }],
    );
    const foreign = host.filter((holder) => holder.tie === null);
    const holders = [...audit.holders, ...tied];
    const integrity = (await this.care.integrity(full)).map(({ board, probe }) => ({
      board,
      status: probe.status,
      detail: probe.detail,
      duration_ms: Math.round(probe.durationMs),
    }));
    const walResetRisk = await this.walRisk.fresh([...audit.holders, ...foreign]);
    const denied = new Set(this.plan.profiles.filter((profile) => !profile.grant).map((profile) => profile.name));
    return {
      audit_ms: Math.round(audit.durationMs * 1000) / 1000,
      holders,
      stale: this.steward.staleHolders({ ...audit, holders }),
      violations: holders.filter((holder) => denied.has(holder.owner)),
      // Foreign holders are named `pid:<comm>` by the audit; the report gives the command on its own.
      foreign: foreign.map(({ owner, pid, board, generation, role }) => ({ pid, command: owner.replace(/^pid:/, ''), board, generation, role })),
      integrity,
      wal_reset_risk: walResetRisk,
      // One scan of /proc and the unit folders, only when an operator asks: never on a timer.
      outside: outsideReport(fleetView(this.plan, [...this.fleet.gateways.values()].flatMap((gateway) => (gateway.pid ? [gateway.pid] : [])))),
    };
  }

  private prepareDeniedHomes(plan: FleetPlan): void {
    for (const profile of plan.profiles) {
      if (profile.enabled && !profile.grant) mkdirSync(deniedHome(plan.config.state_dir, profile.name), { recursive: true, mode: 0o700 });
    }
  }

  private recordSpawn(profile: string, pid: number): void {
    const gateway = this.fleet.get(profile);
    if (gateway) this.steward.noteSpawn(profile, gateway.profile.grant);
    const startTime = processStartTime(pid);
    if (startTime === null) return;
    this.startTimes.set(pid, startTime);
    this.writeRecord(() => recordGateway(this.plan.config.state_dir, { profile, pid, pgid: pid, startTime }));
  }

  /** gateways.json must not go stale without a word: a failed write (a full disk) is an event naming it. */
  private writeRecord(write: () => void): void {
    try {
      write();
    } catch (err) {
      this.events.emit('supervisor.record_failed', { file: gatewaysFile(this.plan.config.state_dir), error: (err as Error).message });
    }
  }

  private recordExit(profile: string, pid: number): void {
    const startTime = this.startTimes.get(pid);
    this.startTimes.delete(pid);
    if (startTime !== undefined) this.writeRecord(() => forgetGateway(this.plan.config.state_dir, profile, { pid, startTime }));
  }
}
