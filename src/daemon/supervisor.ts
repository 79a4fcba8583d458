import { mkdirSync } from 'node:fs';
import { loadConfig } from '../config/index.js';
import { processStartTime } from '../board/index.js';
import {
  AlreadyRunningError,
  ensureStateDir,
  lockStateDir,
  readInstanceRecord,
  removeInstanceRecord,
  StateDirLockedError,
  startControlServer,
  writeInstanceRecord,
  type ControlServer,
  type InstanceLock,
} from '../control/index.js';
import { EventLog, formatEvent } from '../events/index.js';
import { escapeControl, parseSize } from '../util/index.js';
import { Fleet, WaveRunner, type Echo } from '../fleet/index.js';
import { buildPlan, deniedHome, diffPlans, type FleetPlan, type PlanDiff } from '../plan/index.js';
import { forgetGateway, gatewaysFile, reapLeftovers, recordGateway } from '../recovery/index.js';
import { BoardSteward } from '../steward/index.js';
import { BoardCare } from './boardCare.js';
import { commandHandlers } from './commands.js';
import { HOLD } from './holds.js';
import { wireHooks } from './hookWiring.js';

export interface SupervisorOptions {
  /** Where gateway output lines and event summaries go; false when a line was dropped (a stalled reader). */
  print: Echo;
}

/** A reload that cannot be applied: the running fleet is left as it was. */
export class ReloadRejected extends Error {}

/** The one owner process on a host: runs the fleet of a plan and records every state change. */
export class Supervisor {
  readonly events: EventLog;
  readonly fleet: Fleet;
  readonly waves: WaveRunner;
  readonly steward: BoardSteward;
  readonly care: BoardCare;
  readonly startedAt = new Date();
  /** Each board's health as last probed, by slug. */
  readonly health = new Map<string, string>();
  /** Why the next SIGTERM comes, when it is the supervisor's own doing (the `shutdown` command). */
  shutdownRequestedBy: string | null = null;
  private control: ControlServer | null = null;
  private lock: InstanceLock | null = null;
  private stopping: Promise<void> | null = null;
  private reloading: Promise<PlanDiff> | null = null;
  private readonly startTimes = new Map<number, number>();

  constructor(
    public plan: FleetPlan,
    options: SupervisorOptions,
  ) {
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
    const hooks = wireHooks(() => this.plan.config, this.events);
    this.waves = new WaveRunner(this.fleet, this.events, {
      maxParallel: config.restart.max_parallel,
      debounceMs: config.restart.debounce,
      approve: hooks.approveRestart,
      restarted: hooks.restarted,
    });
    this.steward = new BoardSteward({ plan, fleet: this.fleet, events: this.events, waves: this.waves });
    this.care = new BoardCare({
      plan: () => this.plan,
      fleet: this.fleet,
      events: this.events,
      waves: this.waves,
      steward: this.steward,
      health: this.health,
    });
  }

  /**
   * Locks the state dir and takes the control socket (refusing to run beside another supervisor),
   * stops gateways a killed predecessor left behind, then starts the fleet.
   */
  async start(): Promise<void> {
    const { config } = this.plan;
    this.lock = this.lockStateDir();
    try {
      writeInstanceRecord(config.state_dir, {
        pid: process.pid,
        started_at: this.startedAt.toISOString(),
        config: config.file,
        socket: config.control.socket,
      });
      this.control = await startControlServer({
        socketPath: config.control.socket,
        commands: commandHandlers(this),
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
    await reapLeftovers(config.state_dir, { stopTimeoutMs: config.restart.stop_timeout, events: this.events });
    this.prepareDeniedHomes(this.plan);
    // Board identities are known, and every board initialised, migrated and probed, before any gateway
    // opens one. A signal during any step ends the start there: nothing is started after a shutdown began.
    const steps = [
      () => this.steward.start(),
      () => this.initBoards('start'),
      () => this.care.probeAll(false),
      () => this.care.start(),
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
    this.waves.setOptions({ maxParallel: plan.config.restart.max_parallel, debounceMs: plan.config.restart.debounce });
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
    for (const gateway of added) if (!gateway.held) gateway.start('reload');
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

  private prepareDeniedHomes(plan: FleetPlan): void {
    for (const profile of plan.profiles) {
      if (profile.enabled && !profile.grant) mkdirSync(deniedHome(plan.config, profile.name), { recursive: true, mode: 0o700 });
    }
  }

  private recordSpawn(profile: string, pid: number): void {
    const gateway = this.fleet.get(profile);
    if (gateway) gateway.boardGenerations = this.steward.generations();
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
