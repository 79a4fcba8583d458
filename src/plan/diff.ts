import { byText } from '../util/index.js';
import type { FleetPlan, PlannedProfile } from './plan.js';

export interface PlanDiff {
  /** Profiles to start: new, or newly enabled. */
  added: PlannedProfile[];
  /** Profiles to stop: gone, or disabled. */
  removed: string[];
  /** Profiles whose command, env, working directory or grant changed: restarted in a wave. */
  changed: PlannedProfile[];
  unchanged: string[];
}

const running = (plan: FleetPlan) => new Map(plan.profiles.filter((profile) => profile.enabled).map((profile) => [profile.name, profile]));

const launchKey = (profile: PlannedProfile) =>
  JSON.stringify([profile.command, Object.entries(profile.env).sort(([a], [b]) => byText(a, b)), profile.cwd, profile.grant]);

/** What a reload must do to go from one plan to the next; priority alone never restarts anything. */
export function diffPlans(before: FleetPlan, after: FleetPlan): PlanDiff {
  const old = running(before);
  const next = running(after);
  const diff: PlanDiff = { added: [], removed: [], changed: [], unchanged: [] };
  for (const [name, profile] of next) {
    const previous = old.get(name);
    if (!previous) diff.added.push(profile);
    else if (launchKey(previous) !== launchKey(profile)) diff.changed.push(profile);
    else diff.unchanged.push(name);
  }
  for (const name of old.keys()) if (!next.has(name)) diff.removed.push(name);
  return diff;
}
