/** The supervisor's state dir: its layout, its checks, its lock and the record of who runs in it. */
export {
  defaultSocket,
  defaultStateDir,
  deniedHome,
  eventsFile,
  instanceFile,
  lockFile,
  logFile,
  logName,
  logsDir,
  quarantineDir,
  recordsFile,
} from './layout.js';
export { checkStateDir, ensureStateDir, stateDirUsable } from './check.js';
export { lockStateDir, StateDirLockedError, type InstanceLock } from './lock.js';
export { readInstanceRecord, removeInstanceRecord, writeInstanceRecord, type InstanceRecord } from './instance.js';
