export { discoverBoards } from './discover.js';
export { realBoardPath, resolveBoardPath, type BoardLocation } from './resolve.js';
export { readIdentity, readBoardIdentities, sameIdentity, fileKey, boardFiles, SIDECAR_ROLES, type Identity, type BoardIdentities, type SidecarRole } from './identity.js';
export { processTree, openFiles, processStartTime, readProcStat, encodeDev } from './proc.js';
export {
  auditHolders,
  findForeignHolders,
  findHostHolders,
  classifyHolders,
  type AuditOptions,
  type Holder,
  type HostHolder,
  type HolderTarget,
  type BoardRole,
} from './holders.js';
export { tieOf, tiedOwner, type Tie } from './ties.js';
export {
  compareIdentity,
  newBoardState,
  advanceGeneration,
  rememberFiles,
  holderTargets,
  oldSidecars,
  type BoardState,
  type IdentityChange,
} from './registry.js';
export { BoardWatcher, type WatchOptions } from './watch.js';
export {
  scanWorkers,
  selectWorkers,
  bootTime,
  parseBootTime,
  ageSeconds,
  workerProfile,
  workerBoard,
  type KanbanWorker,
  type ProcessFacts,
} from './workers.js';
