import { freeze } from '../steward/index.js';
import { ControlError } from '../control/index.js';
import { probeIntegrity } from '../maintenance/index.js';
import type { WaveResult } from '../fleet/index.js';
import { runBoardInit } from './boardInit.js';
import type { Supervisor } from './supervisor.js';

/**
 * The safe way to re-init a board: fence and stop its granted gateways, run `kanban.init_command`
 * with the board's env, verify the file, then bring the gateways back in one wave.
 */
export async function kanbanInit(supervisor: Supervisor, slug: string) {
  const { config } = supervisor.plan;
  if (!config.kanban.init_command) {
    throw new ControlError('no_init_command', `kanban.init_command is not set in ${config.file}`);
  }
  const board = supervisor.steward.boards.get(slug);
  if (!board) {
    throw new ControlError('unknown_board', `unknown board "${slug}"; known: ${[...supervisor.steward.boards.keys()].join(', ')}`);
  }
  const gateways = [...supervisor.fleet.gateways.values()].filter((gateway) => gateway.profile.grant && !gateway.held);
  const profiles = gateways.map((gateway) => gateway.name);
  freeze(gateways.filter((gateway) => gateway.pid !== null).map((gateway) => ({ pid: gateway.pid!, group: true })));
  // Held, so no wave started by the swap the init itself causes brings them back mid-init.
  for (const gateway of gateways) gateway.hold('kanban init');
  supervisor.events.emit('kanban.init.start', { board: slug, path: board.path, profiles });
  await Promise.all(gateways.map((gateway) => gateway.stop()));

  const init = await runBoardInit(config, board);
  const probe = init.ok ? probeIntegrity(board.path) : null;
  const ok = init.ok && probe?.status === 'ok';
  // Take the new file's identity now rather than at the next event, so the wave lands on it.
  supervisor.steward.check(board, 'poll');
  supervisor.events.emit('kanban.init.done', {
    board: slug,
    ok,
    code: init.code,
    signal: init.signal,
    integrity: probe?.status ?? null,
    generation: board.generation,
    duration_ms: init.durationMs,
    ...(init.error ? { error: init.error } : {}),
  });
  // The gateways come back whatever happened: the old file is still there if the init failed.
  for (const gateway of gateways) gateway.release();
  const wave: WaveResult = await supervisor.waves.request({ profiles, reason: 'kanban.init', board: slug, mandatory: profiles, immediate: true });
  return {
    board: slug,
    ok,
    init: { code: init.code, signal: init.signal, output: init.output, duration_ms: init.durationMs, error: init.error ?? null },
    integrity: probe ? { status: probe.status, detail: probe.detail } : null,
    generation: board.generation,
    wave: { restarted: wave.restarted, failed: wave.failed, vetoed: wave.vetoed, duration_ms: wave.durationMs },
  };
}
