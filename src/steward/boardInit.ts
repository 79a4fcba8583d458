import type { BoardSpec, SupervisorConfig } from '../config/index.js';
import { ENV } from '../hermes/index.js';
import { childEnvironment } from '../plan/index.js';
import { runProcess } from '../proc/index.js';
import { groupTracker } from '../recovery/index.js';
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

/**
 * Runs `kanban.init_command` for one board (schema and column migrations), in one process group,
 * recorded and marked in the state dir: after a crash of the supervisor the next start stops it
 * before running another init beside it.
 */
export async function runBoardInit(config: SupervisorConfig, board: BoardSpec): Promise<InitResult> {
  const command = config.kanban.init_command;
  if (!command) return { ok: true, code: null, signal: null, output: '', durationMs: 0 };
  const timeoutMs = config.kanban.init_timeout;
  const result = await runProcess(command, {
    cwd: config.dir,
    env: childEnvironment(process.env, { ...config.gateway.env, ...boardEnv(config, board) }),
    capture: { keep: 'tail', limit: OUTPUT_LIMIT, combined: true },
    timeoutMs,
    graceMs: KILL_GRACE_MS,
    // A descendant left in the group must not hold the board once the init is done.
    reapOnExit: true,
    mark: { stateDir: config.state_dir, kind: 'init' },
    // A record that cannot be written (a full disk) leaves the mark to find the group.
    track: groupTracker(config.state_dir, 'init', board.slug, () => undefined),
  });
  const error = result.timedOut ? `timed out after ${formatDuration(timeoutMs)} (kanban.init_timeout); stopped` : result.error;
  return {
    ok: result.code === 0 && !result.timedOut && result.error === undefined,
    code: result.code,
    signal: result.signal,
    output: result.output.replace(/\n$/, ''),
    durationMs: Math.round(result.durationMs),
    ...(error !== undefined ? { error } : {}),
  };
}
