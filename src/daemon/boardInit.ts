import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import type { BoardSpec, SupervisorConfig } from '../config/index.js';
import { ENV } from '../hermes/index.js';
import { signalGroup } from '../fleet/index.js';
import { childEnvironment } from '../plan/index.js';
import { formatDuration } from '../util/index.js';

export interface InitResult {
  ok: boolean;
  code: number | null;
  signal: string | null;
  /** The last lines of its output, for the event log and the caller. */
  output: string;
  durationMs: number;
  error?: string;
}

const OUTPUT_LIMIT = 4096;
/** After the timeout's SIGTERM, how long the init's process group gets before SIGKILL. */
const KILL_GRACE_MS = 5_000;

/** The environment that pins Hermes to one board: its root, its file and its slug. */
export function boardEnv(config: SupervisorConfig, board: BoardSpec): Record<string, string> {
  return { [ENV.kanbanHome]: config.hermes_home, [ENV.kanbanDb]: board.path, [ENV.kanbanBoard]: board.slug };
}

/** Runs `kanban.init_command` for one board (schema and column migrations), in one process. */
export async function runBoardInit(config: SupervisorConfig, board: BoardSpec): Promise<InitResult> {
  const command = config.kanban.init_command;
  if (!command) return { ok: true, code: null, signal: null, output: '', durationMs: 0 };
  const started = performance.now();
  const [program, ...args] = command;
  const timeoutMs = config.kanban.init_timeout;
  const child = execa(program!, args, {
    cwd: config.dir,
    env: childEnvironment(process.env, { ...config.gateway.env, ...boardEnv(config, board) }),
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    reject: false,
    // Its own process group: a hung init is stopped with every descendant, none left holding the board.
    detached: true,
  });
  let timedOut = false;
  const pgid = child.pid;
  const timers = [
    setTimeout(() => {
      timedOut = true;
      if (pgid !== undefined) signalGroup(pgid, 'SIGTERM');
    }, timeoutMs),
    setTimeout(() => pgid !== undefined && signalGroup(pgid, 'SIGKILL'), timeoutMs + KILL_GRACE_MS),
  ];
  const result = await child;
  for (const timer of timers) clearTimeout(timer);
  const output = String(result.all ?? '').slice(-OUTPUT_LIMIT);
  const error = timedOut
    ? `timed out after ${formatDuration(timeoutMs)} (kanban.init_timeout); stopped`
    : result.failed && result.exitCode === undefined
      ? (result.shortMessage ?? 'cannot run')
      : undefined;
  return {
    ok: result.exitCode === 0 && !timedOut,
    code: result.exitCode ?? null,
    signal: result.signal ?? null,
    output,
    durationMs: Math.round(performance.now() - started),
    ...(error ? { error } : {}),
  };
}
