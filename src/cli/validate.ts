import { boardFileIssues } from './boardFiles.js';
import { plainTable } from './table.js';
import { outsideWarnings } from './outside.js';
import { ConfigError, loadConfig, type ConfigIssue, type SupervisorConfig } from '../config/index.js';
import { socketPathProblem } from '../control/index.js';
import { fleetView, outsideReport, type OutsideReport } from '../outside/index.js';
import { buildPlan, topologyNotes, type FleetPlan, type PlannedProfile } from '../plan/index.js';
import { stateDirUsable } from '../statedir/index.js';
import { escapeControl, redactEnv, redactText, safeText } from '../util/index.js';

/** A command as shown: secret-shaped arguments (a token passed as a flag) hidden. */
const shownCommand = (command: string[]) => command.map(redactText);

/** The fleet plan as `validate --json` prints it; env values and arguments that look like secrets are hidden. */
export function planReport(plan: FleetPlan) {
  return {
    config: plan.config.file,
    hermes_home: plan.config.hermes_home,
    state_dir: plan.config.state_dir,
    topology: topologyNotes(plan.config.topology),
    profiles: plan.profiles.map((profile) => ({
      name: profile.name,
      config: profile.config,
      enabled: profile.enabled,
      role: profile.role,
      priority: profile.priority,
      grant: profile.grant,
      grant_reason: profile.grant_reason,
      command: shownCommand(profile.command),
      env: redactEnv(profile.env),
    })),
    boards: plan.boards,
    warnings: plan.warnings.map(redactText),
  };
}

export function planTable(plan: FleetPlan): string {
  const table = plainTable(['profile', 'grant', 'why', 'command']);
  for (const profile of plan.profiles) {
    const grant = profile.grant ? (profile.dispatch ? 'yes (dispatch)' : 'yes') : 'no';
    table.push([profileLabel(profile), grant, profile.grant_reason, commandText(profile)]);
  }
  const lines = [
    `config:      ${escapeControl(plan.config.file)}`,
    `hermes_home: ${escapeControl(plan.config.hermes_home)}`,
    `state_dir:   ${escapeControl(plan.config.state_dir)}`,
    ...topologyLines(plan),
    table.toString(),
    `boards: ${escapeControl(plan.boards.map((board) => `${board.slug} (${board.path})`).join(', ')) || 'none'}`,
    'A profile without kanban.enabled: true or kanban.dispatch_in_gateway: true gets no kanban access (least privilege, unlike Hermes\'s own default); a service only with kanban: true.',
    ...plan.warnings.map((warning) => `warning: ${safeText(warning)}`),
  ];
  return lines.join('\n');
}

const profileLabel = (profile: PlannedProfile) => {
  if (profile.role === 'service') return `service:${profile.name}`;
  return profile.enabled || profile.role === 'hosted' ? profile.name : `${profile.name} (disabled)`;
};

const commandText = (profile: PlannedProfile) =>
  profile.role === 'hosted' ? 'served by the host gateway' : safeText(shownCommand(profile.command).join(' '));

/** The topology, what it relies on in Hermes, and Hermes's caveat on it: one line each. */
function topologyLines(plan: FleetPlan): string[] {
  const notes = topologyNotes(plan.config.topology);
  return [
    `topology:    ${notes.topology}`,
    `  hermes:    ${notes.mechanism}`,
    ...(notes.deprecation !== undefined ? [`  caveat:    ${notes.deprecation}`] : []),
    ...(notes.grant !== undefined ? [`  grant:     ${notes.grant}`] : []),
  ];
}

/** The config, loaded and checked for what only the host can tell (a state dir we cannot use, a socket path the kernel would refuse). */
export function loadCheckedConfig(configFile: string | undefined): SupervisorConfig {
  const config = loadConfig(configFile);
  const issues: ConfigIssue[] = [];
  const stateDir = stateDirUsable(config.state_dir);
  if (stateDir !== null) issues.push({ file: config.file, key: 'state_dir', message: `${stateDir}; expected a directory private to this user (or a path where one can be created)` });
  const socket = socketPathProblem(config.control.socket);
  if (socket !== null) issues.push({ file: config.file, key: 'control.socket', message: `${socket}; choose a shorter control.socket or state_dir` });
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** The plan's report or table with the gateways and units found outside the supervisor: warnings, never a config error. */
function withOutside(plan: FleetPlan, json: boolean): string {
  const outside: OutsideReport = outsideReport(fleetView(plan));
  if (json) return JSON.stringify({ ...planReport(plan), outside }, null, 2);
  return [planTable(plan), ...outsideWarnings(outside)].join('\n');
}

export function validateCommand(options: { config?: string; json?: boolean }, out: (text: string) => void): number {
  const config = loadCheckedConfig(options.config);
  // Only here: at start such a board is held for an operator, never refused with the whole fleet.
  const boards = boardFileIssues(config);
  if (boards.length > 0) throw new ConfigError(boards);
  out(withOutside(buildPlan(config), options.json === true));
  return 0;
}
