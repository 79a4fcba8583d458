import type { GatewayStateRecord } from '../hermes/index.js';

/** What a running gateway's state file says of its heartbeat, as `status` shows it. */
export interface HeartbeatView {
  /** Seconds since `updated_at`; null when the file has none that reads as a time. */
  age_s: number | null;
  /** `gateway_state` as written; null when there is no file. */
  state: string | null;
  stale: boolean;
  /** Why it is stale; null when it is not. */
  reason: string | null;
}

/**
 * Hermes's states of a gateway that lives: a drain of its own (`/restart`, an update) included.
 * Any other (`degraded`, `startup_failed`, `stopped`) while the process lives is worth a warning.
 */
const LIVE_STATES: ReadonlySet<string> = new Set(['starting', 'running', 'draining']);

/**
 * The heartbeat verdict on a live gateway's state file at `now`: stale when `updated_at` is older than
 * `staleAfterMs` (Hermes's own reader calls 120 s stale), when the file names another process, or when
 * it says a state of a gateway that is not serving. No file at all is no verdict: a command that writes
 * none (ready by the timer) is never warned about.
 */
export function heartbeatVerdict(record: GatewayStateRecord | null, ours: boolean, now: number, staleAfterMs: number): HeartbeatView {
  if (record === null) return { age_s: null, state: null, stale: false, reason: null };
  const age = record.updatedAt === null ? null : Math.max(0, Math.round((now - record.updatedAt) / 1000));
  const view = (reason: string | null): HeartbeatView => ({ age_s: age, state: record.state, stale: reason !== null, reason });
  if (!ours) return view(record.pid === null ? 'names no pid' : `names another pid (${record.pid})`);
  if (record.state === null || !LIVE_STATES.has(record.state)) return view(`says ${record.state ?? 'no state'}`);
  if (record.updatedAt === null) return view('no readable updated_at');
  if (now - record.updatedAt > staleAfterMs) return view(`updated_at ${age}s old`);
  return view(null);
}

/** How often the fleet's state files are looked at: a quarter of the threshold, never more than every 5 s. */
export function heartbeatCheckMs(staleAfterMs: number): number {
  return Math.max(staleAfterMs / 4, 5000);
}
