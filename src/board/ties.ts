import { STATE_DIR_MARK, WORKER_ENV } from '../hermes/index.js';
import { GROUP_KINDS, KIND_MARK, PGID_MARK, type GroupKind } from '../proc/marks.js';

/**
 * How a process outside the gateways' trees is tied to the supervisor of one state dir, read from the
 * environment it inherited: a kanban worker (Hermes's task mark, in a group of its own), or any other
 * marked process, with the kind of group it came from (a gateway, a hook, an init) and that group's
 * leader (its PGID mark) when known.
 */
export type Tie =
  | { kind: 'worker'; task: string; runId: string | null }
  | { kind: 'marked'; from: GroupKind | null; gatewayPid: number | null };

/** The tie of a process with environment `env` in process group `pgrp`; null when it has none (a foreign process). */
export function tieOf(env: ReadonlyMap<string, string>, pgrp: number, stateDir: string): Tie | null {
  if (env.get(STATE_DIR_MARK) !== stateDir) return null;
  const leader = env.get(PGID_MARK);
  const task = env.get(WORKER_ENV.task);
  // As selectWorkers: a process still in the group the supervisor marked is no worker, whatever it inherited.
  if (task !== undefined && leader !== String(pgrp)) return { kind: 'worker', task, runId: env.get(WORKER_ENV.runId) ?? null };
  const from = (GROUP_KINDS as readonly string[]).includes(env.get(KIND_MARK) ?? '') ? (env.get(KIND_MARK) as GroupKind) : null;
  const leaderPid = leader !== undefined && /^[1-9]\d*$/.test(leader) ? Number(leader) : null;
  return { kind: 'marked', from, gatewayPid: from === 'gateway' ? leaderPid : null };
}

/**
 * How a tied holder is named in a report: a worker by its task (`worker:<task>`), a marked process by
 * the profile of the gateway it came from while that gateway runs, else by its command (`marked:<comm>`).
 */
export function tiedOwner(tie: Tie, comm: string, gatewayOf: (pid: number) => string | undefined): string {
  if (tie.kind === 'worker') return `worker:${tie.task}`;
  return (tie.gatewayPid === null ? undefined : gatewayOf(tie.gatewayPid)) ?? `marked:${comm}`;
}
