/** Where a board file came from. */
export type GenerationOrigin = 'initial' | 'rm-recreate' | 'rename-over' | 'kanban-init-recreate' | 'kanban-init' | 'kanban-restore' | 'unexplained';

/** One file that sat at the board's path, and when. */
export interface Generation {
  seq: number;
  dev: number;
  ino: number;
  birthtimeMs: number;
  /** From when the file was at the path: its birth for an in-place create, the rename for a rename-over. */
  sinceMs: number;
  /** When it left the path (removed or renamed over); null while it is still there. */
  untilMs: number | null;
  origin: GenerationOrigin;
}

export const sameFile = (a: { dev: number | null; ino: number | null }, b: { dev: number; ino: number }): boolean =>
  a.dev === b.dev && a.ino === b.ino;

/** The file at the path at `tsMs`, or null when there was none (between a delete and the re-create). */
export function generationAt(generations: readonly Generation[], tsMs: number): Generation | null {
  for (let i = generations.length - 1; i >= 0; i -= 1) {
    const generation = generations[i]!;
    if (generation.sinceMs <= tsMs) return generation.untilMs === null || tsMs < generation.untilMs ? generation : null;
  }
  return null;
}

/**
 * The generation a connection with this (dev, ino) held at `tsMs`: the latest one with that identity
 * born by then. A live connection keeps its inode allocated, so (dev, ino) cannot name two files at once.
 */
export function generationOf(generations: readonly Generation[], id: { dev: number; ino: number }, tsMs: number): Generation | null {
  for (let i = generations.length - 1; i >= 0; i -= 1) {
    const generation = generations[i]!;
    if (generation.birthtimeMs <= tsMs && sameFile(id, generation)) return generation;
  }
  return null;
}

/**
 * Adds files seen at the path (by the /proc and stat sampler) that no recorded action put there,
 * e.g. a board the supervisor rebuilt, from when they were first seen.
 */
export function mergeObserved(
  generations: readonly Generation[],
  observed: ReadonlyArray<{ dev: number; ino: number; birthtimeMs: number; firstSeenMs: number }>,
): { generations: Generation[]; unexplained: Generation[] } {
  const known = (id: { dev: number; ino: number; birthtimeMs: number }) =>
    generations.some((generation) => sameFile(id, generation) && generation.birthtimeMs === id.birthtimeMs);
  const unexplained: Generation[] = observed
    .filter((id) => !known(id))
    .map((id) => ({ seq: -1, dev: id.dev, ino: id.ino, birthtimeMs: id.birthtimeMs, sinceMs: id.firstSeenMs, untilMs: null, origin: 'unexplained' }));
  if (unexplained.length === 0) return { generations: [...generations], unexplained };
  const merged = [...generations.map((generation) => ({ ...generation })), ...unexplained].sort((a, b) => a.sinceMs - b.sinceMs);
  for (let i = 0; i < merged.length; i += 1) {
    const next = merged[i + 1];
    const generation = merged[i]!;
    generation.seq = i;
    if (next && (generation.untilMs === null || generation.untilMs > next.sinceMs)) generation.untilMs = next.sinceMs;
  }
  return { generations: merged, unexplained };
}
