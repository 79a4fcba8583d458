import { classifyHolders, type Holder, type Tie } from '../board/index.js';

/** What the fence needs to know of one gateway: its pid (= its process group) and whether it is already on its way out. */
export interface FleetMember {
  pid: number | null;
  stopping: boolean;
}

/** A holder outside the gateways' trees that carries the supervisor's marks (see findHostHolders). */
export interface TiedHolder extends Holder {
  tie: Tie;
}

/** A stale kanban worker: frozen, then stopped so Hermes's dispatcher reclaims its task. */
export interface StaleWorker {
  pid: number;
  task: string;
  runId: string | null;
}

/** A kanban worker of a board (holding it, or named by its HERMES_KANBAN_DB), with its start time so that a reused pid is never signalled. */
export interface BoardWorker extends StaleWorker {
  startTime: number;
}

export interface FencePlan {
  /** Profiles whose gateway holds an older generation: frozen, stopped and brought back in the wave. */
  profiles: string[];
  /** What to SIGSTOP at once: each stale gateway's group, and each stale holder outside those groups. */
  freeze: Array<{ pid: number; group: boolean }>;
  /**
   * Stale holders outside their gateway's group (escaped descendants, marked processes that left the
   * gateway's session), with that gateway: killed once it is down, or at once when no gateway of the
   * fleet is theirs any more (null). A gateway already stopping keeps its own stop, but its stale
   * outsiders are fenced all the same: they outlive it.
   */
  outsiders: Array<{ pid: number; owner: string | null }>;
  /** Stale kanban workers: they outlive their gateway, so they are stopped on their own. */
  workers: StaleWorker[];
  /** Keys of sidecars of unknown generation that a stale holder has open: they belong to the old file. */
  staleKeys: Set<string>;
}

/**
 * Decides whom a swap fences, from an audit of the board's files (the gateways' trees, and the marked
 * processes found elsewhere on the host) and the fleet's view. A holder is stale when it holds a known
 * older generation (generation 0 marks a sidecar of unknown generation: it is judged by who holds it).
 * A gateway already stopping is not frozen again: it got SIGCONT + SIGTERM and would sit stopped until
 * the SIGKILL. A stale worker fences only itself: its gateway may well be on the new file.
 */
export function planFence(input: {
  holders: readonly Holder[];
  tied: readonly TiedHolder[];
  board: string;
  generation: number;
  fleet: ReadonlyMap<string, FleetMember>;
  /** The process group of each holder pid, as read from /proc. */
  groupOf: ReadonlyMap<number, number>;
  /** The tie of each gateway-tree holder outside its gateway's group (a worker still linked to it). */
  ties: ReadonlyMap<number, Tie>;
  /** Which unknown-generation keys each holder row stands for. */
  keyOf: (holder: Holder) => string | undefined;
}): FencePlan {
  const current = new Map([[input.board, input.generation]]);
  const isStale = (holder: Holder) => holder.generation > 0 && classifyHolders([holder], current).stale.length > 0;
  const stopping = (owner: string) => input.fleet.get(owner)?.stopping === true;
  const gatewayByPid = new Map([...input.fleet].flatMap(([name, member]) => (member.pid === null ? [] : [[member.pid, name] as const])));

  const workers = new Map<number, StaleWorker>();
  const outsiders = new Map<number, string | null>();
  const owners = new Set<string>();
  for (const holder of input.holders.filter(isStale)) {
    const tie = input.ties.get(holder.pid);
    if (tie?.kind === 'worker') {
      workers.set(holder.pid, { pid: holder.pid, task: tie.task, runId: tie.runId });
      continue;
    }
    owners.add(holder.owner);
    const group = input.groupOf.get(holder.pid);
    if (group !== undefined && group !== input.fleet.get(holder.owner)?.pid) outsiders.set(holder.pid, holder.owner);
  }
  for (const holder of input.tied.filter(isStale)) {
    if (holder.tie.kind === 'worker') {
      workers.set(holder.pid, { pid: holder.pid, task: holder.tie.task, runId: holder.tie.runId });
      continue;
    }
    // A hook's or an init's run is bounded by its own timeout, and an init may be the very job that
    // replaced the board: left to it, as before it carried a mark.
    if (holder.tie.from === 'hook' || holder.tie.from === 'init') continue;
    const owner = holder.tie.gatewayPid === null ? null : (gatewayByPid.get(holder.tie.gatewayPid) ?? null);
    if (owner !== null) owners.add(owner);
    outsiders.set(holder.pid, owner);
  }

  const profiles = [...owners].filter((owner) => !stopping(owner));
  const groups = profiles.map((profile) => input.fleet.get(profile)?.pid).filter((pid): pid is number => typeof pid === 'number');
  const stalePids = new Set([...input.holders, ...input.tied].filter(isStale).map((holder) => holder.pid));
  const staleKeys = new Set<string>();
  for (const holder of [...input.holders, ...input.tied]) {
    if (holder.generation !== 0 || !stalePids.has(holder.pid)) continue;
    const key = input.keyOf(holder);
    if (key !== undefined) staleKeys.add(key);
  }
  return {
    profiles,
    freeze: [
      ...groups.map((pid) => ({ pid, group: true })),
      ...[...outsiders.keys(), ...workers.keys()].map((pid) => ({ pid, group: false })),
    ],
    outsiders: [...outsiders].map(([pid, owner]) => ({ pid, owner })),
    workers: [...workers.values()],
    staleKeys,
  };
}

/** The profiles holding an older generation of any board: `restart --stale`, `check` and the poll's safety net. */
export function staleHolders(holders: readonly Holder[], generations: ReadonlyMap<string, number>): Holder[] {
  return classifyHolders(holders.filter((holder) => holder.generation > 0), generations).stale;
}
