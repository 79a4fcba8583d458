export { Fleet, timingsOf, type FleetOptions } from './fleet.js';
export { Gateway, type GatewayState, type GatewayTimings, type ExitRecord } from './gateway.js';
export { decideAfterCrash, emptyHistory, type CrashPolicy, type CrashHistory, type CrashDecision } from './backoff.js';
export { signalGroup, groupAlive, reapGroup, liveGroupMembers, waitGroupGone } from './processGroup.js';
export { WaveRunner, type WaveResult, type WaveRequest, type WaveOptions, type WaveGateway, type WaveFleet } from './wave.js';
export { WaveQueue } from './waveQueue.js';
export { HOLD } from './holds.js';
