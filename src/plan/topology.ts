import type { ConfigIssue } from '../config/index.js';
import { PARKED_MARKER, STANDALONE_DEPRECATION_NOTICE, STANDALONE_KEY } from '../hermes/index.js';
import type { Profile } from '../profiles/index.js';
import { isHermesGatewayCommand } from './stopBudget.js';

export type Topology = 'per-profile' | 'host';

/**
 * How a planned fleet member runs: `profile`, a gateway of its own; `host`, the one gateway serving every
 * profile (the default profile's, in `topology: host`); `hosted`, served by that gateway, never run;
 * `service`, a Hermes process of the `services:` section (the dashboard), no gateway.
 */
export type ProfileRole = 'profile' | 'host' | 'hosted' | 'service';

export function roleOf(topology: Topology, name: string): ProfileRole {
  if (topology === 'per-profile') return 'profile';
  return name === 'default' ? 'host' : 'hosted';
}

/** `--force` skips Hermes's attach guard: the gateway starts as the profile's own. */
const forced = (command: readonly string[]) => command.includes('--force');

/**
 * A named profile run by Hermes's own `gateway run` needs `gateway.standalone: true` (or `--force`):
 * otherwise Hermes 0.21 attaches it to the host gateway or makes it the host. The default profile
 * is the host gateway itself (Hermes ignores the key there); another command is not Hermes's.
 */
export function standaloneIssue(
  profile: { name: string; config: string; enabled: boolean; command: readonly string[]; standalone: boolean },
  configFile: string,
): ConfigIssue | null {
  if (!profile.enabled || profile.name === 'default' || profile.standalone) return null;
  if (!isHermesGatewayCommand(profile.command) || forced(profile.command)) return null;
  return {
    file: profile.config,
    key: STANDALONE_KEY,
    message:
      `is not true, so Hermes 0.21 would not run profile "${profile.name}" as a gateway of its own: it attaches it to the host gateway ` +
      `(exit 75 under a supervisor: a restart loop) or makes it the host serving every profile; set ${STANDALONE_KEY}: true here, ` +
      `add --force to its command, or set topology: host in ${configFile}`,
  };
}

/** What `topology: host` leaves unused in a named profile's config: said, never an error. */
export function hostedProfileWarnings(profile: Profile): string[] {
  const { supervisor, gateway } = profile.settings;
  const ignored = [
    ...(supervisor.command !== undefined ? ['supervisor.command'] : []),
    ...(Object.keys(supervisor.env).length > 0 ? ['supervisor.env'] : []),
  ];
  const warnings: string[] = [];
  if (ignored.length > 0) {
    warnings.push(`${profile.name}: ${ignored.join(' and ')} ignored in topology: host (the host gateway serves this profile; ${profile.config})`);
  }
  if (!supervisor.enabled) {
    warnings.push(
      `${profile.name}: supervisor.enabled: false ignored in topology: host: the host gateway still serves it (Hermes leaves a profile unserved when its folder holds ${PARKED_MARKER}; ${profile.config})`,
    );
  }
  if (gateway.standalone) {
    warnings.push(`${profile.name}: ${STANDALONE_KEY}: true, so the host gateway does not serve it and topology: host runs no gateway for it (${profile.config})`);
  }
  return warnings;
}

/** What a topology relies on in Hermes, in one line each, for `validate`. */
export interface TopologyNotes {
  topology: Topology;
  mechanism: string;
  /** `per-profile`: Hermes's word on the shim it relies on. */
  deprecation?: string;
  /** `host`: what the kanban grant means when one process serves every profile. */
  grant?: string;
}

export function topologyNotes(topology: Topology): TopologyNotes {
  if (topology === 'per-profile') {
    return {
      topology,
      mechanism: `a gateway per profile: every named profile run by Hermes's gateway command is ${STANDALONE_KEY}: true (or --force), so Hermes 0.21 runs it standalone rather than in the host gateway`,
      deprecation: `Hermes: "${STANDALONE_DEPRECATION_NOTICE}"`,
    };
  }
  return {
    topology,
    mechanism: 'one gateway, the default profile\'s (HERMES_HOME = hermes_home), multiplexes every profile as Hermes 0.21 runs it; named profiles are served by it, never run on their own',
    grant:
      'the default profile\'s kanban switches grant the one host gateway; it dispatches for every profile and spawns workers for every assignee, so named profiles\' kanban switches are Hermes\'s to honour, not the supervisor\'s to enforce',
  };
}
