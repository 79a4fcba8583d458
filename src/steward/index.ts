export { BoardSteward, type StewardDeps, type AuditSummary } from './steward.js';
export { freeze } from './fence.js';
