import { discoverBoards } from '../board/discover.js';
import { ConfigError, type BoardSpec, type ConfigIssue, type SupervisorConfig } from '../config/index.js';
import { discoverProfiles, readProfile, type Profile } from '../profiles/index.js';
import { deniedHome } from '../statedir/index.js';
import { configTrustIssues } from '../trust/index.js';
import { byText } from '../util/index.js';
import { resolveProgram, substituteProfile } from './command.js';
import { boardFilesystem, networkFsIssue } from './fsguard.js';
import { gatewayEnv } from './env.js';
import { dotenvIssues } from './envBypass.js';
import { decideGrant, type GrantReason } from './grant.js';
import { pollOnlyWarning } from './pollOnly.js';
import { stopBudgetWarning } from './stopBudget.js';
import { planServices, serviceCollisions } from './services.js';
import { hostedProfileWarnings, roleOf, standaloneIssue, type ProfileRole } from './topology.js';

export interface PlannedProfile {
  name: string;
  /** The profile's folder, HERMES_HOME of its gateway. */
  home: string;
  /** The profile's config file. */
  config: string;
  /** False when the profile sets `supervisor.enabled: false`, or is served by the host gateway: planned, never run. */
  enabled: boolean;
  role: ProfileRole;
  /** `gateway.standalone` in its config.yaml, as Hermes reads it. */
  standalone: boolean;
  priority: number;
  grant: boolean;
  grant_reason: GrantReason;
  dispatch: boolean;
  command: string[];
  /** Where readiness comes from: the profile's `supervisor.ready_from`, else `restart.ready_from`; always `timer` for a service. */
  ready_from: 'state_file' | 'timer';
  /** A service's own `stop_timeout` (ms), beating `restart.stop_timeout`. */
  stop_timeout?: number;
  /** The variables the supervisor sets for this gateway. */
  env: Record<string, string>;
  cwd: string;
}

export interface FleetPlan {
  config: SupervisorConfig;
  profiles: PlannedProfile[];
  boards: BoardSpec[];
  warnings: string[];
}

/** Reads every profile and decides what runs, with which grant, command and environment. */
export function buildPlan(config: SupervisorConfig, inheritedPath = process.env.PATH ?? ''): FleetPlan {
  const discovery = discoverProfiles(config.hermes_home, config.profiles_dir, { alwaysDefault: config.topology === 'host' });
  const issues: ConfigIssue[] = [...discovery.invalid.map((folder) => ({ file: folder.entry, message: folder.reason })), ...configTrustIssues(config)];
  // An untrusted profile's config is never read: its supervisor.command and env would run as this user.
  for (const profile of discovery.untrusted) {
    issues.push({ file: profile.config, message: `${profile.problem}; profile "${profile.name}" is not run` });
  }
  const profiles: Profile[] = [];
  for (const location of discovery.profiles) {
    const parsed = readProfile(location);
    if (parsed.ok) profiles.push(parsed.value);
    else issues.push(...parsed.issues);
  }

  const running = profiles.filter((profile) => roleOf(config.topology, profile.name) !== 'hosted');
  const planned = running.map((profile) => planProfile(config, profile));
  const host = planned.find((entry) => entry.role === 'host');
  const hosted = profiles.filter((profile) => !running.includes(profile));
  planned.push(...hosted.map((profile) => hostedProfile(config, profile, host)));
  issues.push(...serviceCollisions(config, new Set([...discovery.profiles, ...discovery.untrusted].map((profile) => profile.name))));
  planned.push(...planServices(config));
  for (const entry of planned) {
    const standalone = standaloneIssue(entry, config.file);
    if (standalone !== null) issues.push(standalone);
    if (!entry.enabled) continue;
    const program = entry.command[0] ?? '';
    if (resolveProgram(program, entry.cwd, inheritedPath) === null) {
      const service = entry.role === 'service';
      const fromProfile = !service && profiles.find((p) => p.name === entry.name)?.settings.supervisor.command !== undefined;
      issues.push({
        file: fromProfile ? entry.config : config.file,
        key: service ? `services.${entry.name}.command[0]` : fromProfile ? 'supervisor.command[0]' : 'gateway.command[0]',
        message: `program "${program}" for ${service ? 'service' : 'profile'} "${entry.name}" was not found or is not executable (${program.includes('/') ? `resolved against ${entry.cwd}` : 'searched PATH'})`,
      });
    }
  }
  issues.push(...dotenvIssues(planned.filter((entry) => entry.enabled)));
  const boards = discoverBoards(config.hermes_home, config.kanban.boards);
  for (const board of boards) {
    const issue = networkFsIssue(config, board, boardFilesystem(board));
    if (issue) issues.push(issue);
  }
  if (issues.length > 0) throw new ConfigError(issues);

  planned.sort((a, b) => a.priority - b.priority || byText(a.name, b.name));
  const warnings = [
    ...discovery.skipped.map((skip) => `skipped ${skip.entry}: ${skip.reason}`),
    ...grantWarnings(running, planned),
    ...hosted.flatMap(hostedProfileWarnings),
  ];
  if (planned.length === 0) warnings.push(`no profiles found under ${config.hermes_home} or ${config.profiles_dir}`);
  const stopBudget = stopBudgetWarning(config.restart.stop_timeout, planned);
  if (stopBudget !== null) warnings.push(stopBudget);
  const pollOnly = pollOnlyWarning(config.health);
  if (pollOnly !== null) warnings.push(pollOnly);
  return { config, profiles: planned, boards, warnings };
}

function planProfile(config: SupervisorConfig, profile: Profile): PlannedProfile {
  const { kanban, supervisor } = profile.settings;
  const grant = decideGrant(kanban);
  return {
    name: profile.name,
    home: profile.home,
    config: profile.config,
    enabled: supervisor.enabled,
    role: roleOf(config.topology, profile.name),
    standalone: profile.settings.gateway.standalone,
    priority: supervisor.priority,
    grant: grant.granted,
    grant_reason: grant.reason,
    dispatch: grant.dispatch,
    command: substituteProfile(supervisor.command ?? config.gateway.command, profile.name),
    ready_from: supervisor.ready_from ?? config.restart.ready_from,
    env: gatewayEnv({
      grant,
      profileHome: profile.home,
      kanbanHome: config.hermes_home,
      deniedHome: deniedHome(config.state_dir, profile.name),
      extra: { ...config.gateway.env, ...supervisor.env },
      stateDir: config.state_dir,
    }),
    cwd: config.gateway.cwd,
  };
}

/**
 * A profile the host gateway serves: nothing of its own runs. The host's grant is shown for it, as the
 * host process (its dispatcher, the workers it spawns for this profile) is what reaches the boards.
 */
function hostedProfile(config: SupervisorConfig, profile: Profile, host: PlannedProfile | undefined): PlannedProfile {
  return {
    name: profile.name,
    home: profile.home,
    config: profile.config,
    enabled: false,
    role: 'hosted',
    standalone: profile.settings.gateway.standalone,
    priority: profile.settings.supervisor.priority,
    grant: host?.grant ?? false,
    grant_reason: 'host gateway',
    dispatch: false,
    command: [],
    ready_from: config.restart.ready_from,
    env: {},
    cwd: config.gateway.cwd,
  };
}

function grantWarnings(profiles: Profile[], planned: PlannedProfile[]): string[] {
  const warnings: string[] = [];
  const dispatchers = planned.filter((entry) => entry.enabled && entry.dispatch).map((entry) => entry.name);
  if (dispatchers.length > 1) {
    warnings.push(
      `profiles ${dispatchers.join(', ')} all dispatch (kanban.dispatch_in_gateway: true); Hermes runs one dispatcher per machine, so only one of them will dispatch at a time`,
    );
  }
  for (const profile of profiles) {
    if (!profile.hasConfig) {
      warnings.push(`${profile.name}: no config.yaml; Hermes runs it on its defaults, the supervisor grants it no kanban access (least privilege)`);
      continue;
    }
    const { kanban } = profile.settings;
    if (kanban.enabled === false || kanban.dispatch_in_gateway !== undefined) continue;
    warnings.push(
      kanban.enabled === true
        ? `${profile.name}: kanban.dispatch_in_gateway is not set; Hermes would dispatch by default, but the supervisor runs this gateway with its dispatcher off (HERMES_KANBAN_DISPATCH_IN_GATEWAY=0)`
        : `${profile.name}: kanban.dispatch_in_gateway is not set; Hermes would dispatch by default, but the supervisor grants no kanban access without kanban.enabled: true or kanban.dispatch_in_gateway: true (least privilege)`,
    );
  }
  return warnings;
}
