import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import type { BoardSpec, SupervisorConfig } from '../config/index.js';
import { ENV } from '../hermes/index.js';
import { childEnvironment } from '../plan/index.js';

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
const INIT_TIMEOUT_MS = 10 * 60_000;

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
  const result = await execa(program!, args, {
    cwd: config.dir,
    env: childEnvironment(process.env, { ...config.gateway.env, ...boardEnv(config, board) }),
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    reject: false,
    timeout: INIT_TIMEOUT_MS,
  });
  const output = String(result.all ?? '').slice(-OUTPUT_LIMIT);
  const error = result.failed && result.exitCode === undefined ? (result.shortMessage ?? 'cannot run') : undefined;
  return {
    ok: result.exitCode === 0,
    code: result.exitCode ?? null,
    signal: result.signal ?? null,
    output,
    durationMs: Math.round(performance.now() - started),
    ...(error ? { error } : {}),
  };
}
