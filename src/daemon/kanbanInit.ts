import { freeze } from '../steward/index.js';
import { ControlError } from '../control/index.js';
import { probeIntegrityInThread, type ProbeResult } from '../maintenance/index.js';
import type { WaveResult } from '../fleet/index.js';
import { runBoardInit } from './boardInit.js';
import { HOLD } from './holds.js';
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
  if (!supervisor.care.lock(slug)) {
    throw new ControlError('board_busy', `board "${slug}" is being quarantined, rebuilt or re-initialised, or is held for an operator; try again later`);
  }
  const gateways = [...supervisor.fleet.gateways.values()].filter((gateway) => gateway.profile.grant && !gateway.held);
  const profiles = gateways.map((gateway) => gateway.name);
  let init: Awaited<ReturnType<typeof runBoardInit>>;
  let probe: ProbeResult | null;
  try {
    // Running gateways are frozen at once; one already stopping is only being waited for.
    freeze(gateways.filter((gateway) => gateway.pid !== null && gateway.state !== 'stopping').map((gateway) => ({ pid: gateway.pid!, group: true })));
    // Held, so no wave started by the swap the init itself causes brings them back mid-init.
    for (const gateway of gateways) gateway.hold(HOLD.kanbanInit);
    supervisor.events.emit('kanban.init.start', { board: slug, path: board.path, profiles });
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    init = await runBoardInit(config, board);
    probe = init.ok ? await probeIntegrityInThread(board.path) : null;
    // Take the new file's identity now rather than at the next event, so the wave lands on it.
    supervisor.steward.check(board, 'poll');
  } finally {
    for (const gateway of gateways) gateway.release(HOLD.kanbanInit);
    supervisor.care.unlock(slug);
  }
  const ok = init.ok && probe?.status === 'ok';
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
