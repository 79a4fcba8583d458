export { Fleet, timingsOf, type FleetOptions } from './fleet.js';
export { Gateway, type GatewayState, type GatewayTimings, type ExitRecord } from './gateway.js';
export { decideAfterCrash, emptyHistory, type CrashPolicy, type CrashHistory, type CrashDecision } from './backoff.js';
export { signalGroup, groupAlive, reapGroup, liveGroupMembers, waitGroupGone } from './processGroup.js';
export { WaveRunner, type WaveResult, type WaveRequest, type WaveOptions } from './wave.js';
export { WaveQueue } from './waveQueue.js';
export { BoundedPrinter, DEFAULT_MAX_PENDING_BYTES, type Echo } from './output.js';
