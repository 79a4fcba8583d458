export { BoardSteward, type StewardDeps, type AuditSummary } from './steward.js';
export { BoardCare, type BoardCareDeps, type IntegrityReport, type ReinitReport } from './care.js';
export { BoardJobs, type BoardJob, type BoardJobsDeps, type JobGateway, type JobOutcome } from './jobs.js';
export { planFence, staleHolders, type FencePlan, type FleetMember, type StaleWorker, type TiedHolder } from './fencePlan.js';
export { healthOf, isBusy, journalModeOf, type BoardRecord, type RestatCause } from './record.js';
export { BoardBusyError, BoardHeldError, JournalRefusedError, NoInitCommandError, UnknownBoardError } from './errors.js';
export { JournalSwitch, type JournalSwitchDeps, type JournalSwitchReport } from './journalSwitch.js';
export { freeze } from './fence.js';
export { WalRiskWatch, onWal, riskOf, type WalRisk, type WalRiskDeps } from './walRisk.js';
