import type { GatewayStateRecord } from '../hermes/index.js';

/** What a running gateway's state file and loop heartbeat say of it, as `status` shows it. */
export interface HeartbeatView {
  /** Seconds since the fresher of `updated_at` and the loop heartbeat; null when neither reads as a time. */
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
 * The heartbeat verdict on a live gateway at `now`, from its state file and the time of its own
 * process's latest loop heartbeat (`loopBeatAt`, null when it writes none). Stale when the fresher of
 * `updated_at` and the loop heartbeat is older than `staleAfterMs` (Hermes's own reader calls a state
 * file older than 120 s stale; a quiet gateway of a version that writes it only on transitions stays
 * fresh through its loop heartbeat), when the state file names another process, or when it says a
 * state of a gateway that is not serving. No state file at all is no verdict: a command that writes
 * none (ready by the timer) is never warned about.
 */
export function heartbeatVerdict(
  record: GatewayStateRecord | null,
  ours: boolean,
  loopBeatAt: number | null,
  now: number,
  staleAfterMs: number,
): HeartbeatView {
  if (record === null) return { age_s: null, state: null, stale: false, reason: null };
  const stamps = [record.updatedAt, loopBeatAt].filter((at): at is number => at !== null);
  const beatAt = stamps.length === 0 ? null : Math.max(...stamps);
  const age = beatAt === null ? null : Math.max(0, Math.round((now - beatAt) / 1000));
  const view = (reason: string | null): HeartbeatView => ({ age_s: age, state: record.state, stale: reason !== null, reason });
  if (!ours) return view(record.pid === null ? 'names no pid' : `names another pid (${record.pid})`);
  if (record.state === null || !LIVE_STATES.has(record.state)) return view(`says ${record.state ?? 'no state'}`);
  if (beatAt === null) return view('no readable updated_at');
  if (now - beatAt > staleAfterMs) return view(`no heartbeat for ${age}s`);
  return view(null);
}

/** How often the fleet's state files are looked at: a quarter of the threshold, never more than every 5 s. */
export function heartbeatCheckMs(staleAfterMs: number): number {
  return Math.max(staleAfterMs / 4, 5000);
}
