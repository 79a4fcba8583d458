import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { capture, type Capture, type KeepPart } from './capture.js';
import { reapGroup } from './group.js';
import { markedCommand, type GroupMark } from './marks.js';
import { programProblem } from './program.js';
import { KILL_WAIT_MS, terminateGroup, type Termination } from './terminate.js';

/** What the child reads: nothing, one string (then end of file), or the supervisor's own stdin. */
export type StdinSource = 'ignore' | 'inherit' | { text: string };

export interface OutputCapture {
  keep: KeepPart;
  /** Bytes kept per stream, or in all when `combined`. */
  limit: number;
  /** stdout and stderr into one capture, in the order they arrive. */
  combined?: boolean;
}

/** Told when the group starts and once it is gone, to keep the crash-safety record; must not throw. */
export interface GroupTracker {
  spawned(pid: number): void;
  gone(pid: number): void;
}

export interface RunOptions {
  /** The child's whole environment. */
  env: Record<string, string>;
  cwd?: string;
  stdin?: StdinSource;
  /** Keep a bounded part of the output for the result. */
  capture?: OutputCapture;
  /** Hands each output stream to a consumer (a gateway's log) as it is opened. */
  stream?: (output: Readable) => void;
  /** Ends the group with the termination policy when the leader has not exited by then. */
  timeoutMs?: number;
  /** After SIGTERM, how long the group gets before SIGKILL. */
  graceMs: number;
  /** After SIGKILL, how long to wait for the group to go before giving up on it. */
  killWaitMs?: number;
  /** Once the leader has exited, SIGKILL whatever is left of its group. */
  reapOnExit?: boolean;
  /** Marks the group for recovery after a crash of the supervisor. */
  mark?: GroupMark;
  track?: GroupTracker;
}

/**
 * The one owner of why a process ended: it exited or died of a signal by itself, it was ended at
 * its timeout or by a stop, or it never started.
 */
export type EndReason = 'exited' | 'signalled' | 'timed_out' | 'stopped' | 'spawn_failed';

export interface ProcessResult {
  /** The leader's pid, which is also its process group; null when it never started. */
  pid: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  ended: EndReason;
  /** How far the termination policy went, when it ran. */
  termination: Termination | null;
  stdout: string;
  stderr: string;
  /** Both streams, when captured combined. */
  output: string;
  durationMs: number;
  /** A spawn failure naming the program, or a group still there after SIGKILL. */
  error?: string;
}

export interface RunningProcess {
  readonly pid: number | null;
  /** Settles once the leader has exited (never waiting on pipes a descendant holds) and any termination is over. */
  readonly result: Promise<ProcessResult>;
  /** Ends the group with the termination policy now (`kill`: SIGKILL at once); resolves with the result. */
  stop(options?: { kill?: boolean }): Promise<ProcessResult>;
}

/** Once the leader has exited, how long output may still arrive through pipes a descendant holds. */
const DRAIN_MS = 1000;

interface LeaderEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: string;
  stuck?: boolean;
}

/**
 * Starts argv (never through a shell of the caller's making) as the leader of its own process group.
 * Whatever happens (missing program, crash, hang) comes back in the result; it never throws.
 */
export function startProcess(argv: string[], options: RunOptions): RunningProcess {
  const started = performance.now();
  const program = argv[0] ?? '';
  const problem = startProblem(argv, options);
  if (problem !== null) return notStarted(program, problem, started);
  const command = markedCommand(argv, options.env, options.mark);
  const piped = options.capture !== undefined || options.stream !== undefined;
  let child: ChildProcess;
  try {
    child = spawn(command.argv[0]!, command.argv.slice(1), {
      cwd: options.cwd,
      env: command.env,
      // Its own process group (setsid), so an ending takes every descendant that stayed in it.
      detached: true,
      stdio: [stdinMode(options.stdin), piped ? 'pipe' : 'ignore', piped ? 'pipe' : 'ignore'] as StdioOptions,
    });
  } catch (err) {
    return notStarted(program, (err as NodeJS.ErrnoException).code ?? (err as Error).message, started);
  }
  const pid = child.pid ?? null;
  if (pid !== null) options.track?.spawned(pid);
  feedStdin(child, options.stdin);
  const outputs = [child.stdout, child.stderr].filter((stream): stream is Readable => stream !== null);
  const captures = captureOutput(outputs, options.capture);
  for (const output of outputs) options.stream?.(output);

  let settleLeader!: (end: LeaderEnd) => void;
  const leader = new Promise<LeaderEnd>((resolve) => (settleLeader = resolve));
  let leaderExited = false;
  child.once('exit', (code, signal) => {
    leaderExited = true;
    settleLeader({ code, signal });
  });
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (child.pid === undefined) settleLeader({ code: null, signal: null, spawnError: err.code ?? err.message });
  });

  let timedOut = false;
  let stopped = false;
  let terminating: Promise<Termination> | null = null;
  const terminate = (kill = false): Promise<Termination> => {
    // Once the leader is gone its pid may name someone else's group: never signal it then.
    terminating ??= pid === null || leaderExited
      ? Promise.resolve<Termination>('gone')
      : terminateGroup(pid, { graceMs: options.graceMs, killWaitMs: options.killWaitMs, kill }).then((termination) => {
          // A leader in uninterruptible sleep may never exit: give up on it rather than wait for ever.
          if (termination === 'stuck') settleLeader({ code: null, signal: null, stuck: true });
          return termination;
        });
    return terminating;
  };
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          void terminate();
        }, options.timeoutMs);

  const result = (async (): Promise<ProcessResult> => {
    const end = await leader;
    clearTimeout(timer);
    if (end.spawnError !== undefined) return notStartedResult(program, end.spawnError, started);
    // With the leader gone, what is left of its group gets no grace period (a stop in progress included).
    const reaped = options.reapOnExit && pid !== null && !end.stuck ? await reapGroup(pid, options.killWaitMs ?? KILL_WAIT_MS) : true;
    let termination: Termination | null = terminating === null ? null : await terminating;
    if (!reaped && termination === null) termination = 'stuck';
    await drain(outputs);
    if (pid !== null) options.track?.gone(pid);
    const ended: EndReason = timedOut ? 'timed_out' : stopped ? 'stopped' : end.signal ? 'signalled' : 'exited';
    return {
      pid,
      code: end.code,
      signal: end.signal,
      timedOut,
      ended,
      termination,
      ...captures(),
      durationMs: elapsed(started),
      ...(termination === 'stuck' ? { error: `process group ${pid} still there after SIGKILL` } : {}),
    };
  })();

  return {
    pid,
    result,
    stop(stopOptions = {}) {
      clearTimeout(timer);
      stopped = !timedOut && !leaderExited;
      void terminate(stopOptions.kill === true);
      return result;
    },
  };
}

/** Runs argv to its end; see startProcess. */
export function runProcess(argv: string[], options: RunOptions): Promise<ProcessResult> {
  return startProcess(argv, options).result;
}

function startProblem(argv: string[], options: RunOptions): string | null {
  if (argv.length === 0 || argv[0] === '') return 'no program given';
  if (options.cwd !== undefined && !isDirectory(options.cwd)) return `working directory ${options.cwd}: ENOENT`;
  return programProblem(argv[0]!, options.env, options.cwd);
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function stdinMode(stdin: StdinSource | undefined): 'ignore' | 'inherit' | 'pipe' {
  return stdin === undefined || stdin === 'ignore' ? 'ignore' : stdin === 'inherit' ? 'inherit' : 'pipe';
}

function feedStdin(child: ChildProcess, stdin: StdinSource | undefined): void {
  if (typeof stdin !== 'object' || child.stdin === null) return;
  // A child that exits without reading its input closes the pipe under us: not an error.
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin.text);
}

function captureOutput(outputs: Readable[], wanted: OutputCapture | undefined): () => Pick<ProcessResult, 'stdout' | 'stderr' | 'output'> {
  if (wanted === undefined) return () => ({ stdout: '', stderr: '', output: '' });
  if (wanted.combined) {
    const all = capture(outputs, wanted.limit, wanted.keep);
    return () => ({ stdout: '', stderr: '', output: all.text() });
  }
  const [stdout, stderr]: Array<Capture | undefined> = outputs.map((output) => capture([output], wanted.limit, wanted.keep));
  return () => ({ stdout: stdout?.text() ?? '', stderr: stderr?.text() ?? '', output: '' });
}

/**
 * Waits for the pipes to close, but no longer than DRAIN_MS: a descendant outside the group may hold
 * them open for ever. Then stops reading them.
 */
async function drain(outputs: Readable[]): Promise<void> {
  const open = outputs.filter((output) => !output.closed);
  if (open.length > 0) {
    const timer = new AbortController();
    const closed = Promise.all(open.map((output) => new Promise((resolve) => output.once('close', resolve))));
    await Promise.race([closed, sleep(DRAIN_MS, undefined, { signal: timer.signal }).catch(() => undefined)]);
    timer.abort();
  }
  for (const output of outputs) output.destroy();
}

const elapsed = (started: number): number => Math.round((performance.now() - started) * 1000) / 1000;

function notStartedResult(program: string, problem: string, started: number): ProcessResult {
  return {
    pid: null,
    code: null,
    signal: null,
    timedOut: false,
    ended: 'spawn_failed',
    termination: null,
    stdout: '',
    stderr: '',
    output: '',
    durationMs: elapsed(started),
    error: `cannot start ${program}: ${problem}`,
  };
}

function notStarted(program: string, problem: string, started: number): RunningProcess {
  const result = Promise.resolve(notStartedResult(program, problem, started));
  return { pid: null, result, stop: () => result };
}
