import { ControlError } from '../control/index.js';
import { BoardBusyError, NoInitCommandError, UnknownBoardError } from '../steward/index.js';
import type { Supervisor } from './supervisor.js';

/** The `kanban_init` command: the supervisor's re-init of a board, its refusals as control errors. */
export async function kanbanInit(supervisor: Supervisor, slug: string) {
  let report;
  try {
    report = await supervisor.reinitBoard(slug);
  } catch (err) {
    if (err instanceof UnknownBoardError) throw new ControlError('unknown_board', err.message);
    if (err instanceof NoInitCommandError) throw new ControlError('no_init_command', err.message);
    if (err instanceof BoardBusyError) throw new ControlError('board_busy', err.message);
    throw err;
  }
  const { init, integrity, wave } = report;
  return {
    board: report.board,
    ok: report.ok,
    init: { code: init.code, signal: init.signal, output: init.output, duration_ms: init.durationMs, error: init.error ?? null },
    integrity: integrity ? { status: integrity.status, detail: integrity.detail } : null,
    generation: report.generation,
    wave: { restarted: wave?.restarted ?? [], failed: wave?.failed ?? [], vetoed: wave?.vetoed ?? [], duration_ms: wave?.durationMs ?? 0 },
  };
}
