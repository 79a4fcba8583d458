export {
  recordGateway,
  forgetGateway,
  readGateways,
  recordGroup,
  forgetGroup,
  readGroups,
  gatewaysFile,
  type GatewayRecord,
  type GroupRecord,
} from './records.js';
export { findLeftovers, reapLeftovers, reapAll, isSameProcess, type LeftoverResult, type ReapedGateway, type ReapedGroup, type ReapOptions } from './leftovers.js';
export { findMarkedGroups } from './marked.js';
export { groupTracker } from './tracker.js';
export { removeDeadTemps } from './temps.js';
