import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { initBoard } from './board.js';
import { runCli, startSupervisor, type CliResult, type RunningSupervisor } from './cli.js';
import { ofType, type Events } from './events.js';
import { fixture, gatewayArgs, python } from './fixture.js';
import { makeFleetDir, writesStateFile, type FleetDir } from './fleetDir.js';
import { readGatewayLog, type GatewayEvent, type GatewayMode } from './gatewayLog.js';
import { killAll, pidsWithMarker } from './proc.js';
import type { Scope } from './scope.js';

/** One profile of a test fleet. Without `mode`, `args` or `command` it runs the fleet's `gateway` command. */
export interface ProfileSpec {
  /** Runs the fixture gateway in this mode, its writes logged to `<logsDir>/<profile>.jsonl`. */
  mode?: GatewayMode;
  intervalMs?: number;
  /** More fixture arguments (or all of them, `--mode` included). */
  args?: string[];
  /** `kanban.enabled` (with the gateway's own dispatcher off); unset writes no kanban section. */
  grant?: boolean;
  /** A command replacing the fixture, given the shared board's path (e.g. a gateway that ignores its grant). */
  command?: (board: string) => string[];
  /** The rest of the profile's config.yaml (priority, enabled, kanban switches). */
  config?: Record<string, unknown>;
}

export interface FleetOptions {
  /** A fleet folder the caller already wrote scripts into; a new one otherwise. */
  dir?: FleetDir;
  prefix?: string;
  /** `gateway.command`; the fixture (logging to `<logsDir>/{profile}.jsonl`) by default. */
  gateway?: string[];
  /** The rest of the supervisor config (see `brisk`). */
  config?: Record<string, unknown>;
  profiles?: Record<string, ProfileSpec>;
  /** The shared board at `<hermes_home>/kanban.db`: `true` inits it, a function prepares it. */
  board?: boolean | ((board: string) => void);
  /** Extra environment for the supervisor. */
  env?: NodeJS.ProcessEnv;
  /** Waits for every enabled profile's `gateway.ready` before returning (default true). */
  ready?: boolean;
}

export interface Fleet extends FleetDir {
  /** `<hermes_home>/kanban.db`. */
  board: string;
  /** Where fixture gateways log their writes. */
  logsDir: string;
  supervisor: RunningSupervisor;
  /** A fixture gateway's write log. */
  log(profile: string): GatewayEvent[];
  /** Polls the event log until `predicate` holds and returns the events; throws with what it saw after `timeoutMs`. */
  waitForEvent(predicate: (events: Events) => boolean, timeoutMs?: number): Promise<Events>;
  /** Runs a CLI subcommand against this fleet's config. */
  cli(...args: string[]): Promise<CliResult>;
}

const STOP_GRACE_MS = 10_000;

/** Short timings so waves and health checks happen within a test; `config`'s sections extend these key by key. */
export function brisk(config: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    restart: { stop_timeout: '3s', ready_after: '500ms', debounce: '100ms' },
    health: { poll_interval: '200ms' },
  };
  for (const [key, value] of Object.entries(config)) base[key] = isSection(base[key]) && isSection(value) ? { ...base[key], ...value } : value;
  return base;
}

const isSection = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Starts `hermes-supervisor start --config <configFile>`. When the test ends, pass or fail, it is stopped
 * (SIGTERM, SIGKILL after 10 s) and every process still running from the config's folder is killed.
 */
export function supervise(t: Scope, configFile: string, env: NodeJS.ProcessEnv = {}): RunningSupervisor {
  const supervisor = startSupervisor(['--config', configFile], env);
  const folder = path.dirname(configFile) + path.sep;
  t.teardown(async () => {
    if (supervisor.child.exitCode === null && supervisor.child.signalCode === null) {
      supervisor.child.kill('SIGTERM');
      await Promise.race([supervisor.exited, sleep(STOP_GRACE_MS, undefined, { ref: false })]);
      supervisor.child.kill('SIGKILL');
    }
    killAll(pidsWithMarker(folder));
  });
  return supervisor;
}

function profileConfig(name: string, spec: ProfileSpec, board: string, logsDir: string): Record<string, unknown> {
  const usesFixture = spec.mode !== undefined || spec.args !== undefined;
  const fixtureCommand = () => [
    python,
    ...gatewayArgs(name, logsDir, [
      ...(spec.mode === undefined ? [] : ['--mode', spec.mode]),
      ...(spec.intervalMs === undefined ? [] : ['--interval-ms', String(spec.intervalMs)]),
      ...(spec.args ?? []),
    ]),
  ];
  const command = spec.command?.(board) ?? (usesFixture ? fixtureCommand() : undefined);
  const { supervisor, ...rest } = spec.config ?? {};
  // A command of the test's own writes no state file: it is ready by the timer.
  const readyFrom = command !== undefined && !writesStateFile(command) ? { ready_from: 'timer' } : {};
  return {
    ...(spec.grant === undefined ? {} : { kanban: spec.grant ? { enabled: true, dispatch_in_gateway: false } : { enabled: false } }),
    ...rest,
    ...(command === undefined && supervisor === undefined ? {} : { supervisor: { ...readyFrom, ...(supervisor as object), ...(command && { command }) } }),
  };
}

/** Writes a fleet (config, profiles, board) and starts a supervisor over it, stopped when the test ends. */
export async function startFleet(t: Scope, options: FleetOptions = {}): Promise<Fleet> {
  const dir = options.dir ?? makeFleetDir(t, options.prefix);
  const board = path.join(dir.hermesHome, 'kanban.db');
  const logsDir = path.join(dir.root, 'gateway-logs');
  mkdirSync(logsDir, { recursive: true });
  if (options.board === true) initBoard(board);
  else if (options.board) options.board(board);
  dir.config({
    gateway: { command: options.gateway ?? [python, fixture, '--profile', '{profile}', '--log', path.join(logsDir, '{profile}.jsonl')] },
    ...options.config,
  });
  const profiles = Object.entries(options.profiles ?? {});
  for (const [name, spec] of profiles) dir.profile(name, profileConfig(name, spec, board, logsDir));

  const supervisor = supervise(t, dir.configFile, options.env);
  const fleet: Fleet = {
    ...dir,
    board,
    logsDir,
    supervisor,
    log: (profile) => readGatewayLog(path.join(logsDir, `${profile}.jsonl`)),
    async waitForEvent(predicate, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const events = dir.events();
        if (predicate(events)) return events;
        await sleep(25);
      }
      const seen = dir.events().map((event) => `${event.type}${event.profile ? `(${event.profile})` : ''}`);
      throw new Error(`timed out after ${timeoutMs} ms; events: ${seen.join(' ')}\n${supervisor.output().slice(-3000)}`);
    },
    cli: (...args) => runCli([...args, '--config', dir.configFile]),
  };
  if (options.ready !== false) {
    const enabled = profiles.filter(([, spec]) => (spec.config?.supervisor as { enabled?: boolean } | undefined)?.enabled !== false).length;
    await fleet.waitForEvent((events) => ofType(events, 'gateway.ready').length >= enabled);
  }
  return fleet;
}
