import type { EventLog } from '../events/index.js';
import { processStartTime } from '../board/proc.js';
import { clearPlannedStop, ENV, gatewayStatePath, STATE_DIR_MARK, SUPERVISED_SERVICE_ENV, WORKER_ENV, writePlannedStop } from '../hermes/index.js';
import { childEnvironment, gatewayProcessEnv, type PlannedProfile } from '../plan/index.js';
import { escapedDescendants, killEscaped, startProcess, type Escaped, type ProcessResult, type RunningProcess } from '../proc/index.js';
import { decideAfterCrash, emptyHistory, type CrashDecision, type CrashHistory, type CrashPolicy } from './backoff.js';
import { exitEvent, HERMES_FATAL_CONFIG_EXIT, HERMES_RESTART_EXIT, transition, type Effect, type GatewayEvent, type GatewayState } from './lifecycle.js';
import type { GatewayOutput } from './output.js';
import { foldedProfiles } from './folded.js';
import { watchReadiness, type ReadyFrom } from './readiness.js';

export type { GatewayState } from './lifecycle.js';

/** Hermes's mark on a kanban worker: it runs in a session of its own and outlives its gateway by design. */
export const WORKER_MARK = WORKER_ENV.task;

export interface GatewayTimings {
  stopTimeoutMs: number;
  readyAfterMs: number;
  crash: CrashPolicy;
}

/** Told when a gateway process starts and when its whole group is gone (crash-safety records). */
export interface GatewayLifecycle {
  spawned(profile: string, pid: number): void;
  exited(profile: string, pid: number): void;
}

export interface ExitRecord {
  code: number | null;
  signal: string | null;
  error?: string;
  /** The exit ended a graceful restart's drain (SIGUSR1): asked for, never a crash. */
  graceful?: true;
  at: string;
}

/** What an effect needs beyond the gateway itself: the spawn's reason, the crash policy's verdict. */
interface EffectContext {
  reason?: string;
  graceful?: boolean;
  readyFrom?: ReadyFrom;
  crash?: { history: CrashHistory; decision: CrashDecision };
}

/** Why a gateway is spawned again or given up on, for each of Hermes's own exit codes. */
const HERMES_EXIT_REASONS: Partial<Record<GatewayEvent, string>> = {
  restart_requested: `hermes restart (exit ${HERMES_RESTART_EXIT})`,
  fatal_config: `fatal config (exit ${HERMES_FATAL_CONFIG_EXIT})`,
};

/**
 * One profile's gateway, or one service: a child in its own process group, restarted with backoff when it crashes,
 * given up on when it crashes too often. Never more than one child at a time. Its lifecycle is the
 * table in lifecycle.ts; this class performs the effects.
 */
export class Gateway {
  state: GatewayState = 'stopped';
  pid: number | null = null;
  startedAt: number | null = null;
  restarts = 0;
  lastExit: ExitRecord | null = null;
  lastRestartReason: string | null = null;
  /** Other profiles this run of the gateway serves, by its state file at ready: Hermes folded them into it. */
  folded: string[] | null = null;
  /** Frozen by the board steward because it held a replaced board; cleared by the next spawn. */
  fenced = false;
  /** Why the gateway is held stopped (an operator's stop, a board init, a corruption); waves and backoff leave it alone. */
  readonly holds = new Set<string>();
  /** Removed from the fleet: it never starts again. */
  private retired = false;

  private plan: PlannedProfile;
  private child: RunningProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private history: CrashHistory = emptyHistory();
  private readiness: { stop(): void } | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** Ends a drain that outlasts stop_timeout as a stop (see the drain_timeout row of the lifecycle). */
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly stateListeners = new Set<(state: GatewayState) => void>();
  /** Descendants outside the gateway's group, seen when a stop began: killed with the gateway. */
  private escaped: Escaped[] = [];

  constructor(
    plan: PlannedProfile,
    private timings: GatewayTimings,
    private readonly events: EventLog,
    private readonly output: GatewayOutput,
    private readonly lifecycle?: GatewayLifecycle,
  ) {
    this.plan = plan;
  }

  get name(): string {
    return this.plan.name;
  }

  get profile(): PlannedProfile {
    return this.plan;
  }

  /** Takes a new plan and timings; they apply from the next spawn. */
  replan(plan: PlannedProfile, timings: GatewayTimings = this.timings): void {
    this.plan = plan;
    this.timings = timings;
  }

  /** A service (the dashboard) rather than a profile's gateway: no gateway contract, no planned-stop marker. */
  get isService(): boolean {
    return this.plan.role === 'service';
  }

  get held(): boolean {
    return this.holds.size > 0;
  }

  hold(reason: string): void {
    this.holds.add(reason);
  }

  /** Lifts one hold; others (an operator's stop during a rebuild, say) stay. */
  release(reason: string): void {
    this.holds.delete(reason);
  }

  /** Leaves the fleet for good (a profile removed by a reload): nothing starts it again. */
  retire(): void {
    this.retired = true;
  }

  get alive(): boolean {
    return this.child !== null;
  }

  /**
   * Starts the gateway unless it is already up. A failed or backing-off gateway starts now. `graceful`
   * marks the start that follows a graceful restart's drain, in its `gateway.spawn` event.
   */
  start(reason = 'start', graceful = false): void {
    if (!this.retired) this.dispatch('start', { reason, ...(graceful ? { graceful } : {}) });
  }

  /**
   * A graceful restart's first half: SIGUSR1 to the gateway's process (Hermes drains its work, then
   * exits 75), escalated to a stop at stop_timeout. Resolves once the gateway is gone, as `stop` does,
   * so the caller starts it again. False, with nothing done, when it is not ready (not `running`).
   */
  async drain(reason: string): Promise<boolean> {
    if (this.state !== 'running') return false;
    this.dispatch('drain', { reason });
    await this.exited;
    return true;
  }

  /**
   * Stops the gateway: SIGTERM to its group, SIGKILL after stop_timeout. Resolves once the whole group
   * is gone.
   */
  async stop(): Promise<void> {
    this.dispatch('stop');
    await this.exited;
  }

  /** Resolves true once the gateway is ready, false if it exits, backs off, fails or stops first. */
  waitReady(): Promise<boolean> {
    if (this.state === 'running') return Promise.resolve(true);
    if (this.state !== 'starting') return Promise.resolve(false);
    return new Promise((resolve) => {
      const listener = (state: GatewayState) => {
        if (state === 'starting') return;
        this.stateListeners.delete(listener);
        resolve(state === 'running');
      };
      this.stateListeners.add(listener);
    });
  }

  /** Resolves when the current child (if any) has exited and its group is gone. */
  whenExited(): Promise<void> {
    return this.exited;
  }

  /** Looks the event up in the lifecycle table, takes the next state, then performs the effects. */
  private dispatch(event: GatewayEvent, context: EffectContext = {}): void {
    const step = transition(this.state, event);
    if (step === null) return;
    if (step.next !== this.state) this.setState(step.next);
    for (const effect of step.effects) this.perform(effect, context);
  }

  private perform(effect: Effect, context: EffectContext): void {
    switch (effect) {
      case 'reset_history':
        this.history = emptyHistory();
        return;
      case 'cancel_backoff':
        clearTimeout(this.backoffTimer);
        return;
      case 'spawn':
        this.spawn(context.reason ?? 'start', context.graceful === true);
        return;
      case 'announce_ready':
        this.events.emit('gateway.ready', { profile: this.name, pid: this.pid, ...(context.readyFrom !== undefined ? { from: context.readyFrom } : {}) });
        return;
      case 'terminate':
        this.terminate();
        return;
      case 'signal_drain':
        this.signalDrain(context.reason ?? 'restart');
        return;
      case 'commit_crash':
        if (context.crash) this.history = context.crash.history;
        return;
      case 'schedule_restart':
        this.scheduleRestart(context.crash?.decision);
        return;
      case 'announce_failed':
        this.events.emit('gateway.failed', {
          profile: this.name,
          ...(context.reason !== undefined
            ? { reason: context.reason }
            : {
                crashes: context.crash?.decision.kind === 'give_up' ? context.crash.decision.crashes : this.history.recent.length,
                within_ms: this.timings.crash.giveUpWithinMs,
              }),
        });
        return;
    }
  }

  private spawn(reason: string, graceful: boolean): void {
    const stateDir = this.plan.env[STATE_DIR_MARK];
    const child = startProcess(this.plan.command, {
      cwd: this.plan.cwd,
      env: this.isService ? { ...childEnvironment(process.env, this.plan.env), ...SUPERVISED_SERVICE_ENV } : gatewayProcessEnv(process.env, this.plan.env),
      stream: (output) => this.output.attach(output),
      graceMs: this.timings.stopTimeoutMs,
      // Whatever is left of the group when the gateway exits must not keep a board open.
      reapOnExit: true,
      ...(stateDir !== undefined ? { mark: { stateDir, kind: 'gateway' as const } } : {}),
    });
    this.child = child;
    this.pid = child.pid;
    this.fenced = false;
    this.folded = null;
    this.startedAt = Date.now();
    if (reason !== 'start') {
      this.restarts += 1;
      this.lastRestartReason = reason;
    }
    this.events.emit('gateway.spawn', { profile: this.name, pid: this.pid, reason, ...(graceful ? { graceful } : {}) });
    const pid = this.pid;
    if (pid !== null) guarded(this.events, 'gateway spawn record', () => this.lifecycle?.spawned(this.name, pid));
    if (pid !== null) {
      this.readiness = watchReadiness({
        home: this.plan.env[ENV.home],
        leader: pid,
        from: this.plan.ready_from,
        readyAfterMs: this.timings.readyAfterMs,
        ready: (readyFrom, served) => {
          if (this.child !== child) return;
          this.dispatch('ready', { readyFrom });
          this.noteFolded(pid, served);
        },
        noStateFile: () => {
          if (this.child !== child) return;
          this.events.emit('gateway.waiting', {
            profile: this.name,
            pid,
            state_file: gatewayStatePath(this.plan.env[ENV.home]!),
            note: 'no gateway_state.json yet; still waiting for it to say running (set restart.ready_from: timer for a command that writes none)',
          });
        },
      });
    }
    this.exited = child.result.then((result) => this.onExit(result));
  }

  /** Hermes made this gateway serve other profiles too (it multiplexes): a warning, once per run. */
  private noteFolded(pid: number, served: string[] | null): void {
    this.folded = foldedProfiles(served, this.name, this.plan.role);
    if (this.folded !== null) this.events.emit('gateway.folded', { profile: this.name, pid, served });
  }

  private terminate(): void {
    clearTimeout(this.drainTimer);
    const child = this.child;
    if (child === null || child.pid === null) return;
    // Descendants that left the group (setsid) are found now, while their parent still links them, and
    // by the marks they inherited when a double fork unlinked them. Kanban workers are spared: they
    // finish their task after the gateway is gone.
    this.escaped = escapedDescendants(child.pid, { spareMark: WORKER_MARK, stateDir: this.plan.env[STATE_DIR_MARK] });
    // Fenced off a replaced board it is frozen, and must never run again: resumed to close its
    // connections gracefully, SQLite would unlink `-journal` (on commit) or `-wal` (on the last close)
    // by name, and the name now belongs to the new file. SIGKILL it is.
    if (this.fenced) {
      void child.stop({ kill: true });
      return;
    }
    this.markPlannedStop(child.pid);
    void child.stop();
  }

  /**
   * SIGUSR1 to the gateway's own process, as Hermes's unit does (`ExecReload=kill -USR1 $MAINPID`):
   * no planned-stop marker, as this is no stop. Its group is left alone; Hermes ends what it started.
   */
  private signalDrain(reason: string): void {
    const pid = this.child?.pid ?? null;
    if (pid === null) return;
    const timeoutMs = this.timings.stopTimeoutMs;
    this.events.emit('gateway.drain', { profile: this.name, pid, signal: 'SIGUSR1', reason, timeout_ms: timeoutMs, graceful: true });
    this.drainTimer = setTimeout(() => {
      this.events.emit('gateway.drain_timeout', { profile: this.name, pid, timeout_ms: timeoutMs, graceful: true });
      this.dispatch('drain_timeout');
    }, timeoutMs);
    try {
      process.kill(pid, 'SIGUSR1');
    } catch (err) {
      // Gone already: its exit is on its way and ends the drain.
      this.events.emit('supervisor.error', { during: 'graceful restart', profile: this.name, error: (err as Error).message });
    }
  }

  /**
   * Tells a Hermes gateway that the SIGTERM coming is a planned stop, so it exits 0 rather than 1. A
   * service's home is the Hermes root, where the marker is the default profile's gateway's: never written.
   */
  private markPlannedStop(pid: number): void {
    const home = this.plan.env[ENV.home];
    if (home === undefined || this.isService) return;
    guarded(this.events, 'planned-stop marker', () =>
      writePlannedStop(home, { targetPid: pid, targetStartTime: processStartTime(pid), stopperPid: process.pid, writtenAt: new Date() }),
    );
  }

  private clearPlannedStop(pid: number): void {
    const home = this.plan.env[ENV.home];
    if (home !== undefined && !this.isService) guarded(this.events, 'planned-stop marker', () => clearPlannedStop(home, pid));
  }

  private onExit(result: ProcessResult): void {
    this.readiness?.stop();
    clearTimeout(this.drainTimer);
    const pid = result.pid;
    const ranForMs = Date.now() - (this.startedAt ?? Date.now());
    if (pid !== null) {
      killEscaped(this.escaped);
      this.escaped = [];
      this.clearPlannedStop(pid);
      guarded(this.events, 'gateway exit record', () => this.lifecycle?.exited(this.name, pid));
    }
    this.child = null;
    this.pid = null;
    const graceful = this.state === 'draining';
    const expected = this.state === 'stopping' || graceful;
    this.lastExit = {
      code: result.code,
      signal: result.signal,
      ...(result.error !== undefined && result.ended === 'spawn_failed' ? { error: result.error } : {}),
      ...(graceful ? { graceful } : {}),
      at: new Date().toISOString(),
    };
    this.events.emit('gateway.exit', {
      profile: this.name,
      pid,
      code: this.lastExit.code,
      signal: this.lastExit.signal,
      ...(this.lastExit.error !== undefined ? { error: this.lastExit.error } : {}),
      expected,
      ...(graceful ? { graceful } : {}),
      ran_ms: ranForMs,
    });
    const crash = decideAfterCrash(this.history, { now: Date.now(), ranForMs }, this.timings.crash);
    const event = exitEvent(result.code, crash.decision, this.state === 'running');
    const reason = HERMES_EXIT_REASONS[event];
    this.dispatch(event, { crash, ...(reason !== undefined ? { reason } : {}) });
  }

  private scheduleRestart(decision: CrashDecision | undefined): void {
    const delayMs = decision?.kind === 'restart' ? decision.delayMs : this.timings.crash.initialMs;
    this.events.emit('gateway.backoff', { profile: this.name, delay_ms: delayMs, crashes: this.history.consecutive });
    this.backoffTimer = setTimeout(() => {
      if (!this.held && !this.retired) this.dispatch('backoff_over', { reason: 'crash' });
    }, delayMs);
  }

  private setState(state: GatewayState): void {
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}

/** A failing side task (a full disk under the crash-safety records) is reported, never thrown. */
function guarded(events: EventLog, what: string, task: () => void): void {
  try {
    task();
  } catch (err) {
    events.emit('supervisor.error', { during: what, error: (err as Error).message });
  }
}
