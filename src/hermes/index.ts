import path from 'node:path';

/** Environment variables Hermes reads that the supervisor controls through the grant. */
export const ENV = {
  home: 'HERMES_HOME',
  kanbanHome: 'HERMES_KANBAN_HOME',
  kanbanDb: 'HERMES_KANBAN_DB',
  kanbanBoard: 'HERMES_KANBAN_BOARD',
  dispatchInGateway: 'HERMES_KANBAN_DISPATCH_IN_GATEWAY',
  notifyInGateway: 'HERMES_KANBAN_NOTIFY_IN_GATEWAY',
} as const;

/** What Hermes's dispatcher sets on each kanban worker it spawns: the task, and the run. */
export const WORKER_ENV = { task: 'HERMES_KANBAN_TASK', runId: 'HERMES_KANBAN_RUN_ID' } as const;

/** Marks a gateway as started by the supervisor of one state dir, so it is found again after a crash. */
export const STATE_DIR_MARK = 'HERMES_SUPERVISOR_STATE_DIR';

/**
 * Set on every gateway: it is a supervised child (not one to detach or replace itself), its own
 * start-storm sleep is off (the supervisor owns backoff), and it speaks the external-supervisor
 * contract (`/restart` and updates exit 75 back to the supervisor; a SIGTERM is a planned stop only
 * with the planned-stop marker, which the supervisor writes before each stop).
 */
export const SUPERVISED_GATEWAY_ENV: Readonly<Record<string, string>> = {
  HERMES_SUPERVISED_CHILD: '1',
  HERMES_GATEWAY_MAX_STARTS: '0',
  HERMES_GATEWAY_EXTERNAL_SUPERVISOR: '1',
};

/**
 * Set on every service (the dashboard): a supervised child. The gateway contract's switches are left
 * out: a gateway the dashboard starts on its own must not take them for its own supervisor's.
 */
export const SUPERVISED_SERVICE_ENV: Readonly<Record<string, string>> = { HERMES_SUPERVISED_CHILD: '1' };

/** The service name whose command may be left out, and that command: Hermes's web dashboard, no browser opened on a server. */
export const DASHBOARD_SERVICE = 'dashboard';
export const DASHBOARD_COMMAND: readonly string[] = ['hermes', 'dashboard', '--no-open'];

/**
 * A service manager's markers (systemd's, socket activation's): a gateway that inherits them from the
 * supervisor's own unit believes systemd manages it and acts on systemd's behalf.
 */
export const SERVICE_MANAGER_ENV_KEYS: ReadonlySet<string> = new Set([
  'INVOCATION_ID',
  'NOTIFY_SOCKET',
  'WATCHDOG_USEC',
  'WATCHDOG_PID',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  'JOURNAL_STREAM',
  'MANAGERPID',
  'SYSTEMD_EXEC_PID',
]);

/** Set only by the supervisor: configs may not override them, and inherited values are dropped. */
export const RESERVED_ENV_KEYS: ReadonlySet<string> = new Set([...Object.values(ENV), STATE_DIR_MARK, ...Object.keys(SUPERVISED_GATEWAY_ENV)]);

export { GATEWAY_STATE_FILE, gatewayStatePath, readGatewayState, stateFileStamp, parseUpdatedAt, type GatewayStateRecord } from './gatewayState.js';
export { loopHeartbeatPath, readLoopHeartbeat, type LoopHeartbeat } from './loopHeartbeat.js';
export { STANDALONE_KEY, STANDALONE_DEPRECATION_NOTICE, PARKED_MARKER, isTruthy, readStandalone, servedProfileNames } from './topology.js';
export { PLANNED_STOP_MARKER, writePlannedStop, clearPlannedStop, plannedStopRecord, type PlannedStop } from './plannedStop.js';

export const DEFAULT_BOARD_SLUG = 'default';

/** Hermes's profile naming rule: lowercase letters, digits, '-' and '_', at most 64, not starting with '-' or '_'. */
const PROFILE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function isValidProfileName(name: string): boolean {
  return PROFILE_NAME.test(name);
}

/** Names Hermes's `-p` refuses (`hermes_cli/profiles.py::_RESERVED_NAMES`); `default` is the root's own alias. */
export const RESERVED_PROFILE_NAMES: ReadonlySet<string> = new Set(['hermes', 'default', 'test', 'tmp', 'root', 'sudo']);

/** Where Hermes marks a named profile deleted: a file per name, beside the profile folders. */
export const PROFILE_TOMBSTONES_DIR = '.deleted';

/** Hermes's `.env` in a profile's home, loaded over the process environment (override). */
export const DOTENV_FILE = '.env';

/** Hermes's machine-wide managed scope: `$HERMES_MANAGED_DIR` when it exists, else this (`managed_scope.py`). */
export const MANAGED_DIR_ENV = 'HERMES_MANAGED_DIR';
export const DEFAULT_MANAGED_DIR = '/etc/hermes';

/** Every variable with this prefix steers Hermes's kanban: which board, which root, which switches. */
export const KANBAN_ENV_PREFIX = 'HERMES_KANBAN_';

/** Board slugs follow the same shape as profile names, so they are safe in paths. */
export function isValidBoardSlug(slug: string): boolean {
  return PROFILE_NAME.test(slug);
}

export function boardPath(kanbanHome: string, slug: string): string {
  return slug === DEFAULT_BOARD_SLUG
    ? path.join(kanbanHome, 'kanban.db')
    : path.join(kanbanHome, 'kanban', 'boards', slug, 'kanban.db');
}

export function boardsDir(kanbanHome: string): string {
  return path.join(kanbanHome, 'kanban', 'boards');
}
