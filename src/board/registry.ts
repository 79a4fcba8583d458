import type { BoardSpec } from '../config/index.js';
import type { HolderTarget, BoardRole } from './holders.js';
import { fileKey, SIDECAR_ROLES, type BoardIdentities, type Identity, type SidecarRole } from './identity.js';

/** Generations whose file keys are remembered, so holders of an old file are still recognised. */
const REMEMBERED_GENERATIONS = 32;

export interface BoardState {
  slug: string;
  path: string;
  /** The file SQLite opens at `path` (a symlink's target), beside which its sidecars live; `path` when no link is involved. */
  realPath: string;
  /** Identity of the board file now; null while it is missing. */
  identity: Identity | null;
  generation: number;
  /** Every file key (db and sidecars) seen, with the generation it belonged to and its birthtime. */
  known: Map<string, { generation: number; role: BoardRole; birthtimeMs: number }>;
}

export type IdentityChange =
  | { kind: 'same' }
  | { kind: 'swap'; old: Identity; next: Identity }
  | { kind: 'gone'; old: Identity }
  | { kind: 'appeared'; next: Identity };

/** Compares (dev, ino, birthtime): ext4 reuses inode numbers at once, so birthtime is part of identity. */
export function compareIdentity(current: Identity | null, observed: Identity | null): IdentityChange {
  if (current === null) return observed === null ? { kind: 'same' } : { kind: 'appeared', next: observed };
  if (observed === null) return { kind: 'gone', old: current };
  const same = current.dev === observed.dev && current.ino === observed.ino && current.birthtimeMs === observed.birthtimeMs;
  return same ? { kind: 'same' } : { kind: 'swap', old: current, next: observed };
}

export function newBoardState(spec: BoardSpec, ids: BoardIdentities, realPath: string = spec.path): BoardState {
  const state: BoardState = { slug: spec.slug, path: spec.path, realPath, identity: ids.db, generation: 1, known: new Map() };
  rememberFiles(state, ids);
  return state;
}

/** Moves the board to a new generation with `identity` as its file. */
export function advanceGeneration(state: BoardState, identity: Identity | null): void {
  state.generation += 1;
  state.identity = identity;
  for (const [key, entry] of state.known) {
    if (entry.generation <= state.generation - REMEMBERED_GENERATIONS) state.known.delete(key);
  }
}

/**
 * Records the keys of the board's files as the current generation's. A key seen again in a newer
 * generation (ext4 reused the inode of a file nobody holds any more) takes the newer generation.
 */
export function rememberFiles(state: BoardState, ids: Partial<BoardIdentities>): void {
  for (const role of ['db', ...SIDECAR_ROLES] as const) {
    const identity = ids[role];
    if (identity) state.known.set(fileKey(identity.dev, identity.ino), { generation: state.generation, role, birthtimeMs: identity.birthtimeMs });
  }
}

/** What the holder audit looks for: every remembered key of every board. */
export function holderTargets(states: Iterable<BoardState>): HolderTarget[] {
  const targets: HolderTarget[] = [];
  for (const state of states) {
    for (const [key, entry] of state.known) {
      targets.push({ key, board: state.slug, generation: entry.generation, role: entry.role, ...(entry.birthtimeMs > 0 ? { birthtimeMs: entry.birthtimeMs } : {}) });
    }
  }
  return targets;
}

/**
 * Which sidecars beside a new board file belong to an older generation (`-wal`/`-shm`/`-journal` are
 * found by name, so left in place they would poison the new file: a hot journal is rolled back into it): those remembered from an older generation,
 * those a stale holder has open, and those created before the new file itself.
 */
export function oldSidecars(input: {
  state: BoardState;
  sidecars: Record<SidecarRole, Identity | null>;
  staleKeys: ReadonlySet<string>;
}): SidecarRole[] {
  const { state, sidecars, staleKeys } = input;
  const result: SidecarRole[] = [];
  for (const role of SIDECAR_ROLES) {
    const sidecar = sidecars[role];
    if (!sidecar) continue;
    const key = fileKey(sidecar.dev, sidecar.ino);
    const remembered = state.known.get(key);
    const sameFile = remembered !== undefined && (remembered.birthtimeMs === 0 || Math.abs(remembered.birthtimeMs - sidecar.birthtimeMs) < 0.001);
    const olderThanBoard = state.identity !== null && sidecar.birthtimeMs > 0 && sidecar.birthtimeMs < state.identity.birthtimeMs;
    if ((sameFile && remembered.generation < state.generation) || staleKeys.has(key) || olderThanBoard) result.push(role);
  }
  return result;
}
