import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startSupervisor, type RunningSupervisor } from '../helpers/cli.js';
import { readGatewayLog, type GatewayEvent } from '../helpers/gatewayLog.js';
import { initBoard } from '../helpers/board.js';
import { fixture, fixtureArgs as fixtureCommandArgs, python } from '../helpers/fixture.js';
import { AnchoredClock } from './clock.js';
import { onCleanup, tempRoot } from './cleanup.js';
import { settlesWithin } from './wait.js';

export type SupervisorEvent = Record<string, unknown> & { type: string; ts_ms: number };

export interface BenchProfile {
  mode: 'hold' | 'tick' | 'idle';
  intervalMs?: number;
  /** Replaces the fixture command (e.g. `sleep` for a very large idle fleet). */
  command?: string[];
  /** More fixture arguments (journal mode, worker spawning). */
  args?: string[];
  /** Dispatches kanban workers: `kanban.dispatch_in_gateway: true` in its profile config. */
  dispatch?: boolean;
}

/** The journal mode a bench board is created in (DELETE: as Hermes does on an SQLite with the WAL-reset bug). */
export type JournalMode = 'wal' | 'delete';

export interface BenchFleetOptions {
  prefix: string;
  profiles: Record<string, BenchProfile>;
  restart?: Record<string, unknown>;
  health?: Record<string, unknown>;
  /** How long to wait for every gateway's first gateway.ready. */
  startTimeoutMs?: number;
  /** Boards beside the default one, under `kanban/boards/`. */
  extraBoards?: number;
  /** The board's journal mode; each fixture gateway needs `--journal` to match (see journalArgs). */
  journal?: JournalMode;
}

export interface BenchFleet {
  root: string;
  hermesHome: string;
  stateDir: string;
  board: string;
  logsDir: string;
  supervisor: RunningSupervisor;
  /** Anchored when the supervisor was spawned: moments on it compare with the supervisor's ts_ms. */
  clock: AnchoredClock;
  events(): SupervisorEvent[];
  waitForEvents(done: (events: SupervisorEvent[]) => boolean, timeoutMs?: number): Promise<SupervisorEvent[]>;
  log(profile: string): GatewayEvent[];
  /** SIGTERM to the supervisor (it stops its gateways), SIGKILL if it hangs. */
  stop(): Promise<void>;
  /** Stops the supervisor if it still runs and removes the folder with anything left in it. */
  dispose(): Promise<void>;
}

/** The fixture command line every runner (plain, PM2, supervisor) uses for a profile. */
export function fixtureArgs(name: string, profile: BenchProfile, logsDir: string): string[] {
  return [...fixtureCommandArgs(name, profile.mode, profile.intervalMs ?? 100, logsDir), ...(profile.args ?? [])];
}

/** The fixture arguments that keep a board in `journal` mode: the fixture switches every board to WAL by default. */
export function journalArgs(journal: JournalMode): string[] {
  return ['--journal', journal];
}

/** What a supervisor gives a granted gateway; plain processes and PM2 get the same by hand. */
export function grantedEnv(profileDir: string, hermesHome: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'HERMES_HOME' && !key.startsWith('HERMES_KANBAN_')) env[key] = value;
  }
  return {
    ...env,
    HERMES_HOME: profileDir,
    HERMES_KANBAN_HOME: hermesHome,
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0',
    HERMES_KANBAN_NOTIFY_IN_GATEWAY: '1',
  };
}

/**
 * A throw-away Hermes home with one board at `<hermes_home>/kanban.db` (and `extraBoards` more under
 * `kanban/boards/`) and granted profiles.
 */
export function makeHermesHome(root: string, profiles: Record<string, BenchProfile>, withBoard = true, extraBoards = 0, journal: JournalMode = 'wal') {
  const hermesHome = path.join(root, 'hermes');
  const logsDir = path.join(root, 'gateway-logs');
  mkdirSync(path.join(hermesHome, 'profiles'), { recursive: true });
  mkdirSync(logsDir);
  const board = path.join(hermesHome, 'kanban.db');
  if (withBoard) initBoard(board, journal);
  for (let i = 1; i <= extraBoards; i++) {
    const dir = path.join(hermesHome, 'kanban', 'boards', `board-${String(i).padStart(3, '0')}`);
    mkdirSync(dir, { recursive: true });
    initBoard(path.join(dir, 'kanban.db'));
  }
  const profileDirs: Record<string, string> = {};
  for (const name of Object.keys(profiles)) {
    const dir = path.join(hermesHome, 'profiles', name);
    mkdirSync(dir);
    profileDirs[name] = dir;
  }
  return { hermesHome, logsDir, board, profileDirs };
}

export async function startBenchFleet(options: BenchFleetOptions): Promise<BenchFleet> {
  const temp = tempRoot(options.prefix);
  const { root } = temp;
  const stateDir = path.join(root, 'state');
  const configFile = path.join(root, 'supervisor.yaml');
  const { hermesHome, logsDir, board, profileDirs } = makeHermesHome(root, options.profiles, true, options.extraBoards ?? 0, options.journal);
  for (const [name, profile] of Object.entries(options.profiles)) {
    writeFileSync(
      path.join(profileDirs[name]!, 'config.yaml'),
      stringify({
        kanban: { enabled: true, dispatch_in_gateway: profile.dispatch === true },
        // A command of its own (e.g. `sleep`) writes no state file: it is ready by the timer.
        supervisor: profile.command ? { command: profile.command, ready_from: 'timer' } : { command: [python, ...fixtureArgs(name, profile, logsDir)] },
      }),
    );
  }
  writeFileSync(
    configFile,
    stringify({
      hermes_home: hermesHome,
      state_dir: stateDir,
      gateway: { command: [python, fixture, '--profile', '{profile}'] },
      restart: { stop_timeout: '3s', ready_after: '500ms', ...options.restart },
      health: { ...options.health },
    }),
  );

  const clock = new AnchoredClock();
  const supervisor = startSupervisor(['--config', configFile]);
  const eventsFile = path.join(stateDir, 'events.jsonl');
  // The supervisor may be half-way through a line: a torn last line is read next time.
  const events = (): SupervisorEvent[] =>
    existsSync(eventsFile)
      ? readFileSync(eventsFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .flatMap((line) => {
            try {
              return [JSON.parse(line) as SupervisorEvent];
            } catch {
              return [];
            }
          })
      : [];

  const stopSupervisor = onCleanup(async () => {
    if (supervisor.child.exitCode === null && supervisor.child.signalCode === null) {
      supervisor.child.kill('SIGTERM');
      if (!(await settlesWithin(supervisor.exited, 15_000))) {
        supervisor.child.kill('SIGKILL');
        await supervisor.exited;
      }
    }
  });

  const fleet: BenchFleet = {
    root,
    hermesHome,
    stateDir,
    board,
    logsDir,
    supervisor,
    clock,
    events,
    async waitForEvents(done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = events();
        if (done(all)) return all;
        if (supervisor.child.exitCode !== null) throw new Error(`supervisor exited early:\n${supervisor.output().slice(-2000)}`);
        if (Date.now() > deadline) {
          const tail = all.slice(-12).map((e) => `${e.type}${e.profile ? `(${String(e.profile)})` : ''}`).join(' ');
          throw new Error(`timed out waiting for supervisor events; last: ${tail}\n${supervisor.output().slice(-2000)}`);
        }
        await sleep(20);
      }
    },
    log: (profile) => readGatewayLog(path.join(logsDir, `${profile}.jsonl`)),
    stop: stopSupervisor,
    async dispose() {
      await stopSupervisor();
      await temp.dispose();
    },
  };
  const expected = Object.keys(options.profiles).length;
  try {
    await fleet.waitForEvents((all) => countType(all, 'gateway.ready') >= expected, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await fleet.dispose();
    throw error;
  }
  return fleet;
}

export const ofType = (events: SupervisorEvent[], type: string) => events.filter((event) => event.type === type);
export const countType = (events: SupervisorEvent[], type: string) => ofType(events, type).length;
