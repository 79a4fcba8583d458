import { ENV, RESERVED_ENV_KEYS, SERVICE_MANAGER_ENV_KEYS, STATE_DIR_MARK, SUPERVISED_GATEWAY_ENV } from '../hermes/index.js';
import type { Grant } from './grant.js';

export interface GatewayEnvInput {
  grant: Grant;
  /** The profile's folder. */
  profileHome: string;
  /** The shared root of the boards, given to granted gateways. */
  kanbanHome: string;
  /** An empty folder of the profile's own, given to denied gateways so they cannot resolve the shared boards. */
  deniedHome: string;
  /** gateway.env then the profile's supervisor.env, already free of grant variables. */
  extra: Record<string, string>;
  /** The supervisor's state dir: marks the gateway as this supervisor's, for recovery after a crash. */
  stateDir: string;
}

/** The variables the supervisor sets for a gateway (on top of the inherited, sanitised environment). */
export function gatewayEnv(input: GatewayEnvInput): Record<string, string> {
  const { grant } = input;
  return {
    ...input.extra,
    [ENV.home]: input.profileHome,
    [ENV.kanbanHome]: grant.granted ? input.kanbanHome : input.deniedHome,
    [ENV.dispatchInGateway]: grant.dispatch ? '1' : '0',
    [ENV.notifyInGateway]: grant.notify ? '1' : '0',
    [STATE_DIR_MARK]: input.stateDir,
  };
}

/**
 * The environment a child really runs with: the supervisor's own, minus every grant variable it may
 * have inherited (a stray HERMES_KANBAN_DB would otherwise hand a denied gateway the board) and every
 * service manager's marker (the child is the supervisor's, not systemd's), plus `env`.
 */
export function childEnvironment(inherited: NodeJS.ProcessEnv, env: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value !== undefined && !RESERVED_ENV_KEYS.has(name) && !SERVICE_MANAGER_ENV_KEYS.has(name)) result[name] = value;
  }
  return { ...result, ...env };
}

/** A gateway's whole environment: childEnvironment plus Hermes's markers of a supervised gateway. */
export function gatewayProcessEnv(inherited: NodeJS.ProcessEnv, env: Record<string, string>): Record<string, string> {
  return { ...childEnvironment(inherited, env), ...SUPERVISED_GATEWAY_ENV };
}
