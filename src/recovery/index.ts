export { recordGateway, forgetGateway, readGateways, gatewaysFile, type GatewayRecord } from './records.js';
export { findLeftovers, reapLeftovers, isSameProcess, type LeftoverResult, type ReapedGateway, type ReapOptions } from './leftovers.js';
export { findMarkedGroups } from './marked.js';
