import { judgeChain, type EntryKind, type TrustPolicy } from './rules.js';
import { walkPath } from './walk.js';

export interface TrustCheck {
  /** What the path is, for the message: "state dir", "config file", ... */
  what: string;
  finalOwner: TrustPolicy['finalOwner'];
  finalKind?: EntryKind;
  /** A path that does not exist yet is fine (it will be created private); the folders above it are still checked. */
  missingOk?: boolean;
  /** Defaults to the supervisor's own user. */
  uid?: number;
}

export const currentUid = (): number => process.getuid?.() ?? 0;

/** What makes target untrustworthy, in one line naming it, what was found and what is expected; null when it is fine. */
export function trustProblem(target: string, check: TrustCheck): string | null {
  let problem: string | null;
  try {
    const chain = walkPath(target);
    if (chain.final === null && check.missingOk !== true) return `${check.what} ${target} does not exist`;
    problem = judgeChain(chain, { uid: check.uid ?? currentUid(), finalOwner: check.finalOwner, finalKind: check.finalKind });
  } catch (err) {
    return `${check.what} ${target}: ${(err as Error).message}`;
  }
  return problem === null ? null : `${check.what} ${target} is not trusted: ${problem}`;
}
