export { buildPlan, type FleetPlan, type PlannedProfile } from './plan.js';
export { decideGrant, type Grant, type GrantReason, type KanbanKeys } from './grant.js';
export { gatewayEnv, childEnvironment, gatewayProcessEnv } from './env.js';
export { redactEnv } from '../util/index.js';
export { substituteProfile, resolveProgram } from './command.js';
export { diffPlans, type PlanDiff } from './diff.js';
export { networkFsIssue, boardFilesystem } from './fsguard.js';
export { parseDotenv, type DotenvEntry } from './dotenv.js';
export { dotenvIssues, envBypassIssues, isGrantKey, managedDotenv, type EnvTarget } from './envBypass.js';
