import { signalGroup, waitGroupGone } from './group.js';

/**
 * How far the one termination policy had to go: the group was already gone, left after SIGTERM,
 * needed SIGKILL, or is still there after SIGKILL (a member in uninterruptible sleep) and was given up on.
 */
export type Termination = 'gone' | 'term' | 'kill' | 'stuck';

export interface TerminatePolicy {
  /** After SIGTERM, how long the group gets before SIGKILL. */
  graceMs: number;
  /** After SIGKILL, how long to wait for the kernel to tear the group down before giving up. */
  killWaitMs?: number;
  /** SIGKILL at once, never SIGTERM or SIGCONT: for a group frozen on a replaced board file (see Gateway.terminate). */
  kill?: boolean;
}

/** After SIGKILL a group only needs the kernel; one still there after this is in D state. */
export const KILL_WAIT_MS = 5000;

/**
 * The single way a process group is ended: SIGTERM to the group, then SIGCONT (a stopped group acts
 * on the SIGTERM it holds once continued), the grace period, SIGKILL to the group, then a bounded wait.
 */
export async function terminateGroup(pgid: number, policy: TerminatePolicy): Promise<Termination> {
  if (policy.kill) {
    if (!signalGroup(pgid, 'SIGKILL')) return 'gone';
    return (await waitGroupGone(pgid, policy.killWaitMs ?? KILL_WAIT_MS)) ? 'kill' : 'stuck';
  }
  if (!signalGroup(pgid, 'SIGTERM')) return 'gone';
  signalGroup(pgid, 'SIGCONT');
  if (await waitGroupGone(pgid, policy.graceMs)) return 'term';
  signalGroup(pgid, 'SIGKILL');
  return (await waitGroupGone(pgid, policy.killWaitMs ?? KILL_WAIT_MS)) ? 'kill' : 'stuck';
}
