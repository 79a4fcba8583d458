export { parseGatewayCommand, type GatewayCommand } from './command.js';
export { outsideGateways, pidFileGateways, profileOfHome, isOurs, type FleetView, type OutsideGateway, type ProcessFacts } from './find.js';
export { findOutsideGateways, findGatewayUnits, gatewayUnitProfile, scanGatewayProcesses, unitDirs, GATEWAY_PID_FILE, type GatewayUnit } from './scan.js';
export { outsideReport, outsideConflict, fleetView, type OutsideReport } from './report.js';
