export { startProcess, runProcess, type RunOptions, type RunningProcess, type ProcessResult, type EndReason, type StdinSource, type OutputCapture, type GroupTracker } from './run.js';
export { terminateGroup, KILL_WAIT_MS, type Termination, type TerminatePolicy } from './terminate.js';
export { signalGroup, groupAlive, groupFrozen, reapGroup, liveGroupMembers, waitGroupGone, killProcess } from './group.js';
export { capture, type Capture, type KeepPart } from './capture.js';
export { markedCommand, markedGroupKind, readEnviron, KIND_MARK, PGID_MARK, GROUP_KINDS, type GroupKind, type GroupMark } from './marks.js';
export { escapedDescendants, killEscaped, type Escaped } from './descendants.js';
