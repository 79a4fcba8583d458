export { Fleet, timingsOf, type FleetOptions } from './fleet.js';
export { Gateway, WORKER_MARK, type GatewayState, type GatewayTimings, type ExitRecord } from './gateway.js';
export { LIFECYCLE, transition, exitEvent, HERMES_RESTART_EXIT, HERMES_FATAL_CONFIG_EXIT, type GatewayEvent, type Effect, type Transition } from './lifecycle.js';
export { decideAfterCrash, emptyHistory, type CrashPolicy, type CrashHistory, type CrashDecision } from './backoff.js';
export { WaveRunner, type WaveResult, type WaveRequest, type WaveOptions, type WaveGateway, type WaveFleet } from './wave.js';
export { WaveQueue } from './waveQueue.js';
export { HOLD } from './holds.js';
export { BoundedPrinter, DEFAULT_MAX_PENDING_BYTES, type Echo } from './output.js';
