import type { SupervisorConfig } from '../config/index.js';
import type { EventLog, SupervisorEvent } from '../events/index.js';
import { runHook, type HookContext, type HookName } from '../hooks/index.js';

/** Which event runs which hook (pre_restart and post_restart are driven by waves). */
const EVENT_HOOKS: Record<string, HookName> = {
  'board.swap': 'on_swap',
  'board.corrupt': 'on_corruption',
  'gateway.failed': 'on_give_up',
  'policy.violation': 'on_violation',
};

export interface HookWiring {
  /** Runs pre_restart (with the pid about to be stopped); false when the hook vetoes the restart. */
  approveRestart(profile: string, reason: string, pid: number | null): Promise<boolean>;
  /** Runs post_restart (with the new pid), without waiting for it. */
  restarted(profile: string, reason: string, pid: number | null): void;
}

/** A wave's hook context: the same fields, and the same `ts`, as an event would carry. */
function restartContext(type: string, profile: string, reason: string, pid: number | null) {
  const context: HookContext = { profile, reason, ...(pid !== null ? { pid } : {}) };
  const event = { ts: new Date().toISOString(), type, profile, reason, pid };
  return { event, context };
}

/** Runs the operator's hooks on events; no hook failure reaches the supervisor. */
export function wireHooks(config: () => SupervisorConfig, events: EventLog): HookWiring {
  const run = (name: HookName, event: Record<string, unknown>, context: HookContext) => {
    const current = config();
    return runHook({ name, command: current.hooks[name], timeoutMs: current.hooks.timeout, event, context, events, cwd: current.dir, stateDir: current.state_dir });
  };
  events.subscribe((event: SupervisorEvent) => {
    const name = EVENT_HOOKS[event.type];
    if (!name) return;
    void run(name, event, contextOf(event));
  });
  return {
    async approveRestart(profile, reason, pid) {
      const { event, context } = restartContext('gateway.restart', profile, reason, pid);
      return (await run('pre_restart', event, context)).ok;
    },
    restarted(profile, reason, pid) {
      const { event, context } = restartContext('gateway.restarted', profile, reason, pid);
      void run('post_restart', event, context);
    },
  };
}

function contextOf(event: SupervisorEvent): HookContext {
  const context: HookContext = { reason: event.type };
  if (typeof event.profile === 'string') context.profile = event.profile;
  if (typeof event.board === 'string') context.board = event.board;
  if (typeof event.generation === 'number') context.generation = event.generation;
  if (typeof event.pid === 'number') context.pid = event.pid;
  return context;
}
