import type { EventLog } from '../events/index.js';
import { runProcess, type ProcessResult } from '../proc/index.js';
import { groupTracker } from '../recovery/index.js';
import { redactDeep } from '../util/index.js';
import { hookProcessEnv, type HookContext, type HookName } from './env.js';

export interface RunHookOptions {
  name: HookName;
  /** The configured argv; undefined when the operator set no hook for this event. */
  command: string[] | undefined;
  timeoutMs: number;
  /** Written to the hook's stdin as one JSON line. */
  event: Record<string, unknown>;
  context: HookContext;
  events: EventLog;
  cwd?: string;
  /** The supervisor's state dir: the hook's group is recorded and marked there, so a crash never orphans it. */
  stateDir?: string;
}

export interface HookResult {
  ran: boolean;
  /** Exited 0 in time. For pre_restart, anything else is a veto. */
  ok: boolean;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  error?: string;
}

/** How much of each of stdout and stderr goes into the hook.run event. */
export const HOOK_OUTPUT_LIMIT = 4096;
/** After the timeout's SIGTERM, how long the group gets before SIGKILL. */
const KILL_GRACE_MS = 1000;

function execute(command: string[], options: RunHookOptions): Promise<ProcessResult> {
  const { stateDir } = options;
  const reportError = (err: Error) => {
    try {
      options.events.emit('supervisor.error', { during: `hook ${options.name} record`, error: err.message });
    } catch {
      // The event log is on the same full disk.
    }
  };
  return runProcess(command, {
    cwd: options.cwd,
    env: hookProcessEnv(process.env, options.name, options.context),
    // A wave's reason is the operator's free text: a hook never receives a secret in it.
    stdin: { text: `${JSON.stringify(redactDeep(options.event))}\n` },
    capture: { keep: 'head', limit: HOOK_OUTPUT_LIMIT },
    timeoutMs: options.timeoutMs,
    graceMs: KILL_GRACE_MS,
    ...(stateDir !== undefined
      ? { mark: { stateDir, kind: 'hook' as const }, track: groupTracker(stateDir, 'hook', options.name, reportError) }
      : {}),
  });
}

/**
 * Runs an operator's hook: argv, never a shell; its own process group, killed whole at the timeout;
 * the event as JSON on stdin. Whatever the hook does (missing, crashing, failing, hanging) comes back
 * in the result and in a hook.run event; it never throws.
 */
export async function runHook(options: RunHookOptions): Promise<HookResult> {
  const { command } = options;
  if (command === undefined || command.length === 0) {
    return { ran: false, ok: true, code: null, signal: null, timedOut: false, durationMs: 0 };
  }
  const execution = await execute(command, options);
  const { durationMs } = execution;
  const ok = execution.error === undefined && !execution.timedOut && execution.code === 0;
  try {
    options.events.emit('hook.run', {
      hook: options.name,
      command,
      ...(options.context.profile !== undefined ? { profile: options.context.profile } : {}),
      ok,
      code: execution.code,
      signal: execution.signal,
      timed_out: execution.timedOut,
      duration_ms: durationMs,
      stdout: execution.stdout,
      stderr: execution.stderr,
      ...(execution.error !== undefined ? { error: execution.error } : {}),
    });
  } catch {
    // The event log could not be written (disk full); the caller still gets the result.
  }
  return {
    ran: true,
    ok,
    code: execution.code,
    signal: execution.signal,
    timedOut: execution.timedOut,
    durationMs,
    ...(execution.error !== undefined ? { error: execution.error } : {}),
  };
}
