import type { FleetPlan } from '../plan/index.js';
import type { FleetView, OutsideGateway } from './find.js';
import { findGatewayUnits, findOutsideGateways, type GatewayUnit } from './scan.js';

/** Hermes gateways started, or set to start, outside the supervisor. */
export interface OutsideReport {
  gateways: OutsideGateway[];
  /** Installed Hermes gateway units; `supervised`: its profile is one the supervisor runs. */
  units: Array<GatewayUnit & { supervised: boolean }>;
}

/** The fleet as the finder sees it; `gatewayGroups` are the running gateways' pids (each leads its group). */
export function fleetView(plan: FleetPlan, gatewayGroups: Iterable<number> = []): FleetView {
  return {
    stateDir: plan.config.state_dir,
    hermesHome: plan.config.hermes_home,
    // Services run no gateway: a gateway in the Hermes root is the default profile's.
    profiles: plan.profiles.filter((profile) => profile.role !== 'service').map(({ name, home, enabled }) => ({ name, home, enabled })),
    gatewayGroups: new Set(gatewayGroups),
  };
}

/** Scans /proc, the profile homes and the unit folders once: for `validate` and `check` only. */
export function outsideReport(view: FleetView): OutsideReport {
  const supervised = new Set(view.profiles.filter((profile) => profile.enabled).map((profile) => profile.name));
  return {
    gateways: findOutsideGateways(view),
    units: findGatewayUnits().map((unit) => ({ ...unit, supervised: unit.profile !== null && supervised.has(unit.profile) })),
  };
}

/** A gateway outside the supervisor runs for a profile the supervisor runs too: one of the two will keep failing. */
export function outsideConflict(report: OutsideReport): boolean {
  return report.gateways.some((gateway) => gateway.supervised);
}
