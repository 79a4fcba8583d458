import type { ConfigIssue, SupervisorConfig } from '../config/index.js';
import { DASHBOARD_COMMAND } from '../hermes/index.js';
import { deniedHome } from '../statedir/index.js';
import { gatewayEnv } from './env.js';
import type { Grant } from './grant.js';
import type { PlannedProfile } from './plan.js';

/** A service starts with the profiles of Hermes's default priority. */
const SERVICE_PRIORITY = 100;

/**
 * A service's grant: the boards (as a granted gateway has them) or none. It runs no gateway, so
 * neither gateway switch is ever on.
 */
export function serviceGrant(kanban: boolean): Grant {
  return { granted: kanban, reason: kanban ? 'service.kanban' : 'service.kanban=false', dispatch: false, notify: false };
}

/**
 * Every configured service as a fleet member: HERMES_HOME is the Hermes root (Hermes's own processes
 * beside the gateways run as the default profile does), the kanban env follows its grant, and it is
 * ready by the timer.
 */
export function planServices(config: SupervisorConfig): PlannedProfile[] {
  return Object.entries(config.services).map(([name, spec]) => {
    const grant = serviceGrant(spec.kanban);
    return {
      name,
      home: config.hermes_home,
      config: config.file,
      enabled: true,
      role: 'service',
      standalone: false,
      priority: SERVICE_PRIORITY,
      grant: grant.granted,
      grant_reason: grant.reason,
      dispatch: false,
      command: [...(spec.command ?? DASHBOARD_COMMAND)],
      ready_from: spec.ready_from,
      ...(spec.stop_timeout !== undefined ? { stop_timeout: spec.stop_timeout } : {}),
      env: gatewayEnv({
        grant,
        profileHome: config.hermes_home,
        kanbanHome: config.hermes_home,
        deniedHome: deniedHome(config.state_dir, name),
        extra: spec.env,
        stateDir: config.state_dir,
      }),
      cwd: config.gateway.cwd,
    };
  });
}

/** A service named like a profile would share its log, its records and its name on the control socket: refused. */
export function serviceCollisions(config: SupervisorConfig, profileNames: ReadonlySet<string>): ConfigIssue[] {
  return Object.keys(config.services)
    .filter((name) => profileNames.has(name))
    .map((name) => ({
      file: config.file,
      key: `services.${name}`,
      message: `has the name of profile "${name}"; expected a service name no profile uses (they share logs, records and control commands)`,
    }));
}
