import type { CrashDecision } from './backoff.js';

/** `draining`: asked to restart gracefully (SIGUSR1); it drains its work, then exits. */
export type GatewayState = 'starting' | 'running' | 'draining' | 'stopping' | 'stopped' | 'backoff' | 'failed';

/**
 * What happens to a gateway. Its exits are told apart before they reach the table (see exitEvent):
 * Hermes asking to be started again (exit 75), a fatal config error (exit 78), a crash still within
 * the backoff budget, or one too many.
 */
export type GatewayEvent =
  | 'start'
  | 'ready'
  | 'stop'
  | 'drain'
  | 'drain_timeout'
  | 'restart_requested'
  | 'fatal_config'
  | 'crashed'
  | 'gave_up'
  | 'backoff_over';

/** Hermes's EX_TEMPFAIL: a drained gateway (`/restart`, an update, SIGUSR1) asking to be started again at once. */
export const HERMES_RESTART_EXIT = 75;
/** Hermes's EX_CONFIG: a fatal config error (token collision, no platforms) that a restart cannot fix. */
export const HERMES_FATAL_CONFIG_EXIT = 78;

/** What the gateway does on a transition, in this order, after taking the next state. */
export type Effect =
  | 'reset_history'
  | 'cancel_backoff'
  | 'spawn'
  | 'announce_ready'
  | 'terminate'
  | 'signal_drain'
  | 'commit_crash'
  | 'schedule_restart'
  | 'announce_failed';

export interface Transition {
  next: GatewayState;
  effects: readonly Effect[];
}

const to = (next: GatewayState, ...effects: Effect[]): Transition => ({ next, effects });

/**
 * The whole lifecycle: event x state -> next state and effects. One row per event, so a new kind of
 * exit (Hermes asking for a restart, a fatal config) is one more row. A missing cell means the event
 * changes nothing in that state (a start while the child runs, a ready after it exited).
 */
export const LIFECYCLE: Readonly<Record<GatewayEvent, Partial<Record<GatewayState, Transition>>>> = {
  start: {
    stopped: to('starting', 'spawn'),
    backoff: to('starting', 'cancel_backoff', 'spawn'),
    failed: to('starting', 'reset_history', 'spawn'),
  },
  ready: {
    starting: to('running', 'announce_ready'),
  },
  stop: {
    starting: to('stopping', 'terminate'),
    running: to('stopping', 'terminate'),
    draining: to('stopping', 'terminate'),
    backoff: to('stopped', 'cancel_backoff'),
    failed: to('stopped'),
  },
  // Only a ready gateway drains: one still starting has no work to drain and gets a plain stop.
  drain: {
    running: to('draining', 'signal_drain'),
  },
  // A drain that outlasts stop_timeout is ended as a stop is: planned-stop marker, SIGTERM, SIGKILL.
  drain_timeout: {
    draining: to('stopping', 'terminate'),
  },
  // Whatever ends a drain (exit 75 as asked, or anything else) is the end the restart asked for:
  // never a crash; whoever asked for the drain starts the gateway again.
  restart_requested: {
    starting: to('starting', 'spawn'),
    running: to('starting', 'spawn'),
    draining: to('stopped'),
    stopping: to('stopped'),
  },
  fatal_config: {
    starting: to('failed', 'announce_failed'),
    running: to('failed', 'announce_failed'),
    draining: to('stopped'),
    stopping: to('stopped'),
  },
  crashed: {
    starting: to('backoff', 'commit_crash', 'schedule_restart'),
    running: to('backoff', 'commit_crash', 'schedule_restart'),
    draining: to('stopped'),
    stopping: to('stopped'),
  },
  gave_up: {
    starting: to('failed', 'commit_crash', 'announce_failed'),
    running: to('failed', 'commit_crash', 'announce_failed'),
    draining: to('stopped'),
    stopping: to('stopped'),
  },
  backoff_over: {
    backoff: to('starting', 'spawn'),
  },
};

/** The transition an event takes from a state, or null when it changes nothing. */
export function transition(state: GatewayState, event: GatewayEvent): Transition | null {
  return LIFECYCLE[event][state] ?? null;
}

/**
 * The event a child's exit is: Hermes's own exit codes first, else what the crash policy decided
 * about it. An exit 75 before the gateway was ever ready is no restart request but a refusal to start
 * (Hermes exits 75 while another gateway serves its profile): a crash, with backoff, so it cannot spin.
 */
export function exitEvent(code: number | null, decision: CrashDecision, wasReady = true): GatewayEvent {
  if (code === HERMES_RESTART_EXIT && wasReady) return 'restart_requested';
  if (code === HERMES_FATAL_CONFIG_EXIT) return 'fatal_config';
  return decision.kind === 'give_up' ? 'gave_up' : 'crashed';
}
