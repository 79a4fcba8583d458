/**
 * The control API: every command the supervisor answers, with its arguments (checked by one schema
 * each) and its result. The server dispatches through this table and the client calls through it, so
 * both sides agree on every shape at compile time.
 */
import * as v from 'valibot';
import { issuePath, keyPath, strictMap, UNKNOWN_KEY } from '../config/index.js';
import type { OutsideReport } from '../outside/index.js';
import { request, type RequestOptions } from './client.js';
import type { CommandHandler } from './connection.js';
import { ControlError } from './protocol.js';

const names = (what: string) => v.array(v.string(`expected each ${what} to be a string`), `expected a list of ${what} names`);
const flag = v.boolean('expected true or false');

/** Argument schemas, one per command; unknown arguments are refused rather than ignored. */
export const commandArgs = {
  status: strictMap({}),
  restart: strictMap({
    profiles: v.optional(names('profile'), []),
    all: v.optional(flag, false),
    stale: v.optional(flag, false),
    reason: v.optional(v.string('expected a text')),
    wait: v.optional(flag, true),
    graceful: v.optional(flag, false),
  }),
  stop: strictMap({ profiles: v.pipe(names('profile'), v.minLength(1, 'expected at least one profile to stop')) }),
  start: strictMap({ profiles: v.pipe(names('profile'), v.minLength(1, 'expected at least one profile to start')) }),
  reload: strictMap({}),
  check: strictMap({ full: v.optional(flag, false) }),
  kanban_init: strictMap({ board: v.optional(v.string('expected a board slug'), 'default') }),
  kanban_journal_mode: strictMap({
    board: v.string('expected a board slug'),
    mode: v.picklist(['delete', 'wal'], 'expected the journal mode: delete or wal'),
    force: v.optional(flag, false),
  }),
  kanban_restore: strictMap({
    board: v.optional(v.string('expected a board slug'), 'default'),
    file: v.pipe(v.string('expected the path of the backup'), v.minLength(1, 'expected the path of the backup')),
  }),
  shutdown: strictMap({}),
};

export type CommandName = keyof typeof commandArgs;
/** What a caller passes (defaults may be left out). */
export type ArgsOf<K extends CommandName> = v.InferInput<(typeof commandArgs)[K]>;
/** What a handler receives: checked, with every default filled in. */
export type ValidArgsOf<K extends CommandName> = v.InferOutput<(typeof commandArgs)[K]>;

export interface StatusReport {
  supervisor: { pid: number; started_at: string; config: string; state_dir: string };
  boards: Array<{
    slug: string;
    path: string;
    generation: number;
    dev: number | null;
    ino: number | null;
    holders: number;
    health: string;
    journal_mode: string;
    /** Holders using the board in WAL mode on an SQLite with the WAL-reset bug, as far as known (see `check` for a fresh look). */
    wal_reset_risk: WalRiskRow[];
  }>;
  profiles: Array<{
    name: string;
    /** `gateway`: a profile's; `service`: one of the `services:` section (the dashboard). */
    kind: 'gateway' | 'service';
    /** The gateway's state; `hosted` for a profile the host gateway serves (`topology: host`), `disabled` for one not run. */
    state: string;
    pid: number | null;
    grant: boolean;
    grant_reason: string;
    /** The generation of the first board the gateway was started on; null when it has no board access. */
    generation: number | null;
    restarts: number;
    /** `graceful`: the exit ended a graceful restart's drain. */
    last_exit: { code: number | null; signal: string | null; error?: string; graceful?: true } | null;
    last_restart_reason: string | null;
    uptime_s: number | null;
    /**
     * The running gateway's Hermes heartbeat (gateway_state.json): seconds since `updated_at`, the state
     * it says, and whether that is stale (`reason` says why). Null when not checked: the gateway is not
     * running, or `health.heartbeat_stale_after` is 0.
     */
    heartbeat: { age_s: number | null; state: string | null; stale: boolean; reason: string | null } | null;
    /** Output lines not printed by the supervisor because its stdout's reader stalled (the log file has them). */
    output_dropped: number;
    /** Other profiles this run of the gateway serves by its state file (Hermes folded them into it); null when none. */
    folded: string[] | null;
  }>;
  /**
   * Live kanban workers of this fleet, found when `status` is asked. `board` is the slug of the board
   * their HERMES_KANBAN_DB names, or that path when it is no board of the supervisor's.
   */
  workers: Array<{ board: string | null; task: string; run_id: string | null; profile: string | null; pid: number; age_s: number }>;
}

export interface WaveSummary {
  restarted: string[];
  failed: string[];
  vetoed: string[];
  skipped: string[];
  duration_ms: number;
}

/** `wave` is null when the caller did not wait (`wait: false`), or when there was nothing to restart. */
export interface RestartResult {
  profiles: string[];
  reason: string;
  /** Restarted by SIGUSR1 (a drain, then exit 75) rather than by a planned stop. */
  graceful: boolean;
  wave: WaveSummary | null;
}

/** A process on a WAL board whose SQLite has the WAL-reset bug: `sqlite` lists every version it has mapped. */
export interface WalRiskRow {
  board: string;
  holder: string;
  pid: number;
  sqlite: string[];
  libraries: string[];
}

export interface HolderRow {
  owner: string;
  pid: number;
  board: string;
  generation: number;
  role: string;
}

/** A process outside the fleet holding a board file: its pid and command name. */
export interface ForeignHolderRow {
  pid: number;
  command: string;
  board: string;
  generation: number;
  role: string;
}

export interface CheckReport {
  audit_ms: number;
  holders: HolderRow[];
  stale: HolderRow[];
  violations: HolderRow[];
  foreign: ForeignHolderRow[];
  integrity: Array<{ board: string; status: string; detail: string; duration_ms: number }>;
  /** Holders (the fleet's and others) using a WAL board on an SQLite with the WAL-reset bug. */
  wal_reset_risk: WalRiskRow[];
  /** Hermes gateways running, and gateway units installed, outside the supervisor. */
  outside: OutsideReport;
}

export interface KanbanInitResult {
  board: string;
  ok: boolean;
  init: { code: number | null; signal: string | null; output: string; duration_ms: number; error: string | null };
  integrity: { status: string; detail: string } | null;
  generation: number;
  wave: { restarted: string[]; failed: string[]; vetoed: string[]; duration_ms: number };
}

export interface KanbanJournalModeResult {
  board: string;
  /** The mode the header named before (`delete`, `wal`), or null when bytes 18/19 said neither. */
  from: string | null;
  mode: string;
  /** False when the board already was in that mode: nothing was stopped. */
  changed: boolean;
  ok: boolean;
  /** Header bytes 18/19 read back after the switch: `1/1` rollback journal, `2/2` WAL. */
  header: string | null;
  integrity: { status: string; detail: string } | null;
  error: string | null;
  /** The gateways stopped for the switch. */
  profiles: string[];
  wave: { restarted: string[]; failed: string[]; vetoed: string[]; duration_ms: number };
}

export interface KanbanRestoreResult {
  board: string;
  /** The backup, as given. */
  source: string;
  ok: boolean;
  /** The journal mode the restored file was installed in: the replaced board's own. */
  journal_mode: string;
  /** Where the replaced board was kept (the quarantine folder); null when there was none. */
  kept: string | null;
  init: { code: number | null; signal: string | null; output: string; duration_ms: number; error: string | null } | null;
  integrity: { status: string; detail: string } | null;
  error: string | null;
  generation: number;
  /** The gateways stopped for the restore. */
  profiles: string[];
  /** The kanban workers on the replaced board that were ended, and how (see `board.worker_stop`). */
  workers: Array<{ pid: number; task: string; run_id: string | null; signal: string | null; result: string }>;
  wave: { restarted: string[]; failed: string[]; vetoed: string[]; duration_ms: number };
}

interface Results {
  status: StatusReport;
  restart: RestartResult;
  stop: { stopped: string[]; already_stopped: string[] };
  start: { started: string[]; already_running: string[]; failed: string[] };
  reload: { added: string[]; removed: string[]; changed: string[] };
  check: CheckReport;
  kanban_init: KanbanInitResult;
  kanban_journal_mode: KanbanJournalModeResult;
  kanban_restore: KanbanRestoreResult;
  shutdown: { stopping: true; pid: number };
}

export type ResultOf<K extends CommandName> = Results[K];

/** The supervisor's side of the API: one handler per command. */
export type CommandHandlers = { [K in CommandName]: (args: ValidArgsOf<K>) => Promise<ResultOf<K>> };

/** One line naming the command, the argument and what was expected. */
function argumentError(name: CommandName, issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): ControlError {
  const issue = issues[0];
  // Unknown arguments come after every other issue, each with one of its own: all are named at once.
  const keys = issues.filter((each) => each.message === UNKNOWN_KEY).map((each) => String(issuePath(each).at(-1)));
  const unknown = issue.message === UNKNOWN_KEY ? `unknown argument${keys.length > 1 ? 's' : ''} ${keys.map((key) => `"${key}"`).join(', ')}` : null;
  const where = keyPath(issuePath(issue));
  return new ControlError('bad_request', `${name}: ${unknown ?? `${where ? `"${where}": ` : ''}${issue.message}`}`);
}

/** Checks one command's arguments; throws a bad_request ControlError naming what is wrong. */
export function parseArgs<K extends CommandName>(name: K, args: unknown): ValidArgsOf<K> {
  const parsed = v.safeParse(commandArgs[name], args);
  if (!parsed.success) throw argumentError(name, parsed.issues);
  return parsed.output as ValidArgsOf<K>;
}

/** The server's table: each command's arguments checked against its schema before its handler runs. */
export function dispatchTable(handlers: CommandHandlers): Record<CommandName, CommandHandler> {
  const entry = <K extends CommandName>(name: K): CommandHandler => (args) => handlers[name](parseArgs(name, args));
  return Object.fromEntries((Object.keys(commandArgs) as CommandName[]).map((name) => [name, entry(name)])) as Record<CommandName, CommandHandler>;
}

/** The client's side: sends one command and resolves with its typed result. */
export function call<K extends CommandName>(socketPath: string, name: K, args: ArgsOf<K>, opts: RequestOptions = {}): Promise<ResultOf<K>> {
  // The server checked the arguments against this table and answers with this table's result type.
  return request(socketPath, name, args, opts) as Promise<ResultOf<K>>;
}
