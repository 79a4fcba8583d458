import { classifyHolders, type Holder } from '../board/index.js';

/** What the fence needs to know of one gateway: its pid (= its process group) and whether it is already on its way out. */
export interface FleetMember {
  pid: number | null;
  stopping: boolean;
}

export interface FencePlan {
  /** Profiles whose gateway holds an older generation: frozen, stopped and brought back in the wave. */
  profiles: string[];
  /** What to SIGSTOP at once: each stale gateway's group, and each stale holder outside those groups. */
  freeze: Array<{ pid: number; group: boolean }>;
  /**
   * Stale holders outside their gateway's group (escaped descendants, kanban workers), with that
   * gateway: killed once it is down. A gateway already stopping keeps its own stop, but its stale
   * outsiders are fenced all the same: they outlive it.
   */
  outsiders: Array<{ pid: number; owner: string }>;
  /** Keys of sidecars of unknown generation that a stale holder has open: they belong to the old file. */
  staleKeys: Set<string>;
}

/**
 * Decides whom a swap fences, from an audit of the board's files and the fleet's view. A holder is
 * stale when it holds a known older generation (generation 0 marks a sidecar of unknown generation:
 * it is judged by who holds it). A gateway already stopping is not frozen again: it got SIGCONT +
 * SIGTERM and would sit stopped until the SIGKILL.
 */
export function planFence(input: {
  holders: readonly Holder[];
  board: string;
  generation: number;
  fleet: ReadonlyMap<string, FleetMember>;
  /** The process group of each holder pid, as read from /proc. */
  groupOf: ReadonlyMap<number, number>;
  /** Which unknown-generation keys each holder row stands for. */
  keyOf: (holder: Holder) => string | undefined;
}): FencePlan {
  const known = input.holders.filter((holder) => holder.generation > 0);
  const { stale } = classifyHolders(known, new Map([[input.board, input.generation]]));
  const stopping = (owner: string) => input.fleet.get(owner)?.stopping === true;
  const profiles = [...new Set(stale.filter((holder) => !stopping(holder.owner)).map((holder) => holder.owner))];
  const groups = profiles.map((profile) => input.fleet.get(profile)?.pid).filter((pid): pid is number => typeof pid === 'number');
  const outsiders = new Map<number, string>();
  for (const holder of stale) {
    const group = input.groupOf.get(holder.pid);
    if (group !== undefined && group !== input.fleet.get(holder.owner)?.pid) outsiders.set(holder.pid, holder.owner);
  }
  const stalePids = new Set(stale.map((holder) => holder.pid));
  const staleKeys = new Set<string>();
  for (const holder of input.holders) {
    if (holder.generation !== 0 || !stalePids.has(holder.pid)) continue;
    const key = input.keyOf(holder);
    if (key !== undefined) staleKeys.add(key);
  }
  return {
    profiles,
    freeze: [...groups.map((pid) => ({ pid, group: true })), ...[...outsiders.keys()].map((pid) => ({ pid, group: false }))],
    outsiders: [...outsiders].map(([pid, owner]) => ({ pid, owner })),
    staleKeys,
  };
}

/** The profiles holding an older generation of any board: `restart --stale`, `check` and the poll's safety net. */
export function staleHolders(holders: readonly Holder[], generations: ReadonlyMap<string, number>): Holder[] {
  return classifyHolders(holders.filter((holder) => holder.generation > 0), generations).stale;
}
