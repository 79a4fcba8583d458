export interface CrashPolicy {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
  giveUpCrashes: number;
  giveUpWithinMs: number;
}

export interface CrashHistory {
  /** Crashes since the gateway last ran stably for `resetAfterMs`. */
  consecutive: number;
  /** Times of the crashes inside the give-up window. */
  recent: number[];
}

export type CrashDecision = { kind: 'restart'; delayMs: number } | { kind: 'give_up'; crashes: number };

export const emptyHistory = (): CrashHistory => ({ consecutive: 0, recent: [] });

/**
 * What to do after an unexpected exit: restart after an exponential backoff (initial, doubling,
 * capped at max, reset by a stable run of `resetAfterMs`), or give up after `giveUpCrashes`
 * crashes within `giveUpWithinMs`.
 */
export function decideAfterCrash(
  history: CrashHistory,
  crash: { now: number; ranForMs: number },
  policy: CrashPolicy,
): { history: CrashHistory; decision: CrashDecision } {
  const consecutive = crash.ranForMs >= policy.resetAfterMs ? 0 : history.consecutive;
  const recent = [...history.recent.filter((at) => crash.now - at < policy.giveUpWithinMs), crash.now];
  const next: CrashHistory = { consecutive: consecutive + 1, recent };
  if (recent.length >= policy.giveUpCrashes) return { history: next, decision: { kind: 'give_up', crashes: recent.length } };
  const delayMs = Math.min(policy.initialMs * 2 ** consecutive, policy.maxMs);
  return { history: next, decision: { kind: 'restart', delayMs } };
}
