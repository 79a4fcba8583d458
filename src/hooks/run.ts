import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { EventLog } from '../events/index.js';
import { redactDeep } from '../util/index.js';
import { signalGroup, waitGroupGone } from '../fleet/processGroup.js';
import { capture } from './capture.js';
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
const KILL_WAIT_MS = 5000;
/** Once the hook has exited, how long its output may still arrive through the pipes. */
const DRAIN_MS = 200;

interface Execution {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  error?: string;
}

function signalQuietly(pgid: number, signal: NodeJS.Signals): void {
  try {
    signalGroup(pgid, signal);
  } catch {
    // EPERM: nothing in the group is ours to signal any more.
  }
}

/** Resolves true if `promise` settles within ms, false otherwise; never leaves a timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const expired = sleep(ms, false, { signal: timer.signal }).catch(() => false);
  const settled = await Promise.race([promise.then(() => true), expired]);
  timer.abort();
  return settled;
}

async function execute(command: string[], options: RunHookOptions): Promise<Execution> {
  const [program, ...args] = command;
  const child = execa(program!, args, {
    cwd: options.cwd,
    env: hookProcessEnv(process.env, options.name, options.context),
    extendEnv: false,
    // A wave's reason is the operator's free text: a hook never receives a secret in it.
    input: `${JSON.stringify(redactDeep(options.event))}\n`,
    // Its own process group (setsid), so a timeout can take every descendant with it.
    detached: true,
    cleanup: false,
    buffer: false,
    reject: false,
  });
  const stdout = capture(child.stdout, HOOK_OUTPUT_LIMIT);
  const stderr = capture(child.stderr, HOOK_OUTPUT_LIMIT);
  // The leader's exit, or the whole result when it never started (no 'exit' event then).
  const leaderExited = Promise.race([
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    }),
    child,
  ]);

  const pgid = child.pid;
  const timedOut = !(await within(leaderExited, options.timeoutMs));
  if (timedOut && pgid !== undefined) {
    signalQuietly(pgid, 'SIGTERM');
    signalQuietly(pgid, 'SIGCONT');
    if (!(await waitGroupGone(pgid, KILL_GRACE_MS))) {
      signalQuietly(pgid, 'SIGKILL');
      await waitGroupGone(pgid, KILL_WAIT_MS);
    }
  }
  // A background process the hook left behind may hold its stdout open for ever; once the hook has
  // exited, stop reading rather than wait for it.
  const drain = setTimeout(() => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  }, DRAIN_MS);
  // A hook stuck in uninterruptible sleep survives even SIGKILL for a while; do not wait on it.
  const result = timedOut ? await Promise.race([child, sleep(KILL_WAIT_MS, null)]) : await child;
  clearTimeout(drain);
  if (result === null) {
    return { code: null, signal: null, timedOut, stdout: stdout.text(), stderr: stderr.text(), error: 'still running after SIGKILL' };
  }

  const spawnCode = (result as { code?: string }).code;
  const cannotStart = result.exitCode === undefined && !result.signal;
  return {
    code: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut,
    stdout: stdout.text(),
    stderr: stderr.text(),
    ...(cannotStart ? { error: `cannot run ${program}: ${spawnCode ?? result.shortMessage ?? 'unknown error'}` } : {}),
  };
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
  const started = performance.now();
  let execution: Execution;
  try {
    execution = await execute(command, options);
  } catch (err) {
    execution = { code: null, signal: null, timedOut: false, stdout: '', stderr: '', error: `cannot run ${command[0]}: ${(err as Error).message}` };
  }
  const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
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
