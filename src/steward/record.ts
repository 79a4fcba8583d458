import path from 'node:path';
import type { BoardSpec } from '../config/index.js';
import { newBoardState, type BoardIdentities, type BoardState, type Identity } from '../board/index.js';

/**
 * What made the steward look at a board's files: a file event, a periodic look (the stat poll, or
 * the one before a checkpoint), the supervisor's own job, or the look before a probe opens the board.
 */
export type RestatCause = 'watch' | 'poll' | 'job' | 'probe';

/**
 * Everything the supervisor knows about one board, in one place: its file's identity and generation
 * (from the registry), its health and journal mode, the exclusive job in hand, why it is held for an
 * operator, the WAL size at the last checkpoint, the vanish timer, and the generation each gateway
 * was spawned on.
 * Only the steward and its jobs write it.
 */
export interface BoardRecord extends BoardState {
  /** The last probe's verdict ('ok', 'corrupt', 'ok (rebuilt)', ...); null before the first. */
  health: string | null;
  /** The exclusive job running on the board ('kanban init', 'rebuild', ...); null when none. */
  job: string | null;
  /** Why the board is held for an operator (corrupt with on_corruption: stop, a failed rebuild); null when not. */
  heldFor: string | null;
  /** The journal mode the last probe (or rebuild) found, and the generation it was found on. */
  journal: { mode: string; generation: number } | null;
  /** WAL bytes at the last passive checkpoint: one is repeated only when the WAL grew past it. */
  checkpointedWalBytes: number | null;
  /** Set while the file is missing: the identity it had and the profiles fenced off it. */
  vanished: { old: Identity; timer: NodeJS.Timeout; fenced: string[] } | null;
  /** The board's generation when each granted gateway was last spawned. */
  readonly spawnedOn: Map<string, number>;
}

export function newBoardRecord(spec: BoardSpec, ids: BoardIdentities, realPath?: string): BoardRecord {
  return {
    ...newBoardState(spec, ids, realPath),
    health: null,
    job: null,
    heldFor: null,
    journal: null,
    checkpointedWalBytes: null,
    vanished: null,
    spawnedOn: new Map(),
  };
}

/** A board a job or an operator holds: probes, checkpoints and other jobs leave it alone. */
export function isBusy(record: BoardRecord): boolean {
  return record.job !== null || record.heldFor !== null;
}

/** What status and check show as a board's health. */
export function healthOf(record: BoardRecord): string {
  if (record.heldFor !== null) return record.heldFor;
  return record.health ?? (record.identity ? 'unknown' : 'missing');
}

/** What status shows as a board's journal mode: the one found on the file now at its path, else `unknown`. */
export function journalModeOf(record: BoardRecord): string {
  return record.journal !== null && record.journal.generation === record.generation ? record.journal.mode : 'unknown';
}

/** Whether the board's path leads elsewhere (a symlink): then its sidecars live beside `realPath`. */
export function isLinked(state: BoardRecord): boolean {
  return state.realPath !== path.resolve(state.path);
}

/**
 * The board's path on an event; for a symlinked board also the real file (`real_path`), and the one
 * the link led to before when it was re-pointed (`old_real_path`).
 */
export function pathsOf(state: BoardRecord, formerReal?: string): { path: string; real_path?: string; old_real_path?: string } {
  return {
    path: state.path,
    ...(isLinked(state) ? { real_path: state.realPath } : {}),
    ...(formerReal === undefined ? {} : { old_real_path: formerReal }),
  };
}
