import { execa, type Result, type ResultPromise } from 'execa';
import { processStartTime, processTree, readProcStat } from '../board/proc.js';
import type { EventLog } from '../events/index.js';
import { childEnvironment, type PlannedProfile } from '../plan/index.js';
import { decideAfterCrash, emptyHistory, type CrashHistory, type CrashPolicy } from './backoff.js';
import type { GatewayOutput } from './output.js';
import { reapGroup, signalGroup } from './processGroup.js';

export type GatewayState = 'starting' | 'running' | 'stopping' | 'stopped' | 'backoff' | 'failed';

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
  at: string;
}

/**
 * One profile's gateway: a child in its own process group, restarted with backoff when it crashes,
 * given up on when it crashes too often. Never more than one child at a time.
 */
export class Gateway {
  state: GatewayState = 'stopped';
  pid: number | null = null;
  startedAt: number | null = null;
  restarts = 0;
  lastExit: ExitRecord | null = null;
  lastRestartReason: string | null = null;
  /** Frozen by the board steward because it held a replaced board; cleared by the next spawn. */
  fenced = false;
  /** Why the gateway is held stopped (an operator's stop, a board init, a corruption); waves and backoff leave it alone. */
  readonly holds = new Set<string>();
  /** Removed from the fleet: it never starts again. */
  private retired = false;

  private plan: PlannedProfile;
  private child: Promise<Result> | null = null;
  private exited: Promise<void> = Promise.resolve();
  private history: CrashHistory = emptyHistory();
  private readyTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private readonly stateListeners = new Set<(state: GatewayState) => void>();
  /** Descendants outside the gateway's group, seen when a stop began: killed with the gateway. */
  private escaped: Array<{ pid: number; startTime: number }> = [];

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

  /** Starts the gateway unless it is already up. A failed or backing-off gateway starts now. */
  start(reason = 'start'): void {
    if (this.child || this.retired) return;
    clearTimeout(this.backoffTimer);
    if (this.state === 'failed') this.history = emptyHistory();
    this.spawn(reason);
  }

  /** Stops the gateway: SIGTERM to its group, SIGKILL after stop_timeout. Resolves once the whole group is gone. */
  async stop(): Promise<void> {
    clearTimeout(this.backoffTimer);
    if (!this.child) {
      if (this.state !== 'stopped') this.setState('stopped');
      return;
    }
    if (this.state !== 'stopping') {
      this.setState('stopping');
      const pgid = this.pid;
      // Descendants that left the group (setsid) are found now, while their parent still links them.
      if (pgid !== null) this.escaped = escapedDescendants(pgid);
      if (pgid !== null) {
        signalGroup(pgid, 'SIGTERM');
        // A fenced (stopped) gateway must be woken to act on SIGTERM.
        signalGroup(pgid, 'SIGCONT');
      }
      const killTimer = setTimeout(() => {
        if (pgid !== null) signalGroup(pgid, 'SIGKILL');
      }, this.timings.stopTimeoutMs);
      this.exited.finally(() => clearTimeout(killTimer)).catch(() => undefined);
    }
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

  private spawn(reason: string): void {
    const [program, ...args] = this.plan.command;
    const child = execa(program!, args, {
      cwd: this.plan.cwd,
      env: childEnvironment(process.env, this.plan.env),
      extendEnv: false,
      detached: true,
      cleanup: false,
      stdin: 'ignore',
      buffer: false,
      reject: false,
    });
    this.child = child;
    this.pid = child.pid ?? null;
    this.fenced = false;
    this.startedAt = Date.now();
    if (reason !== 'start') {
      this.restarts += 1;
      this.lastRestartReason = reason;
    }
    this.setState('starting');
    this.events.emit('gateway.spawn', { profile: this.name, pid: this.pid, reason });
    const pid = this.pid;
    if (pid !== null) guarded(this.events, 'gateway spawn record', () => this.lifecycle?.spawned(this.name, pid));
    this.output.attach(child.stdout);
    this.output.attach(child.stderr);
    this.readyTimer = setTimeout(() => {
      if (this.child === child && this.state === 'starting') {
        this.setState('running');
        this.events.emit('gateway.ready', { profile: this.name, pid: this.pid });
      }
    }, this.timings.readyAfterMs);
    this.exited = exitOf(child, program!).then((exit) => this.onExit(exit, child));
  }

  private async onExit(exit: ChildExit, child: ResultPromise): Promise<void> {
    clearTimeout(this.readyTimer);
    const pid = this.pid;
    const ranForMs = Date.now() - (this.startedAt ?? Date.now());
    if (pid !== null) {
      await reapGroup(pid);
      killEscaped(this.escaped);
      this.escaped = [];
      guarded(this.events, 'gateway exit record', () => this.lifecycle?.exited(this.name, pid));
    }
    // A descendant outside the group may hold the pipes open: stop reading once their lines drained.
    setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, PIPE_DRAIN_MS).unref();
    const expected = this.state === 'stopping';
    this.child = null;
    this.pid = null;
    const spawnError = exit.error;
    this.lastExit = {
      code: exit.code,
      signal: exit.signal,
      ...(spawnError ? { error: spawnError } : {}),
      at: new Date().toISOString(),
    };
    this.events.emit('gateway.exit', {
      profile: this.name,
      pid,
      code: this.lastExit.code,
      signal: this.lastExit.signal,
      ...(spawnError ? { error: spawnError } : {}),
      expected,
      ran_ms: ranForMs,
    });
    if (expected) {
      this.setState('stopped');
      return;
    }
    const { history, decision } = decideAfterCrash(this.history, { now: Date.now(), ranForMs }, this.timings.crash);
    this.history = history;
    if (decision.kind === 'give_up') {
      this.setState('failed');
      this.events.emit('gateway.failed', {
        profile: this.name,
        crashes: decision.crashes,
        within_ms: this.timings.crash.giveUpWithinMs,
      });
      return;
    }
    this.setState('backoff');
    this.events.emit('gateway.backoff', { profile: this.name, delay_ms: decision.delayMs, crashes: history.consecutive });
    this.backoffTimer = setTimeout(() => {
      if (this.state === 'backoff' && !this.held && !this.retired) this.spawn('crash');
    }, decision.delayMs);
  }

  private setState(state: GatewayState): void {
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}

/** Processes in a gateway's tree but outside its process group, with their start times. */
function escapedDescendants(pgid: number): Array<{ pid: number; startTime: number }> {
  const escaped: Array<{ pid: number; startTime: number }> = [];
  for (const pid of processTree([pgid]).get(pgid) ?? []) {
    const stat = readProcStat(pid);
    if (stat && stat.pgrp !== pgid) escaped.push({ pid, startTime: stat.startTime });
  }
  return escaped;
}

/** SIGKILL to each escaped descendant still alive, checking its start time so a reused pid is never hit. */
function killEscaped(escaped: Array<{ pid: number; startTime: number }>): void {
  for (const { pid, startTime } of escaped) {
    if (processStartTime(pid) !== startTime) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** How long a gateway's pipes are still read after it exited. */
const PIPE_DRAIN_MS = 200;

interface ChildExit {
  code: number | null;
  signal: string | null;
  error?: string;
}

/**
 * Resolves when the process exits (the 'exit' event), not when its pipes close: a descendant that
 * left the group may keep stdout open for ever. A child that could not start at all resolves with
 * the error.
 */
function exitOf(child: ResultPromise, program: string): Promise<ChildExit> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.then((result: Result) => {
      if (result.exitCode === undefined && !result.signal) {
        const code = (result as Result & { code?: string }).code;
        resolve({ code: null, signal: null, error: code ? `cannot start ${program}: ${code}` : (result.shortMessage ?? `cannot start ${program}`) });
      }
    });
  });
}

/** A failing side task (a full disk under the crash-safety records) is reported, never thrown. */
function guarded(events: EventLog, what: string, task: () => void): void {
  try {
    task();
  } catch (err) {
    events.emit('supervisor.error', { during: what, error: (err as Error).message });
  }
}
