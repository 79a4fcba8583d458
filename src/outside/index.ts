export { parseGatewayCommand, type GatewayCommand } from './command.js';
export type { FleetView, OutsideGateway } from './find.js';
export { gatewayUnitProfile, type GatewayUnit } from './scan.js';
export { outsideReport, outsideConflict, fleetView, type OutsideReport } from './report.js';
