import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { fixture, python } from '../helpers/fixture.js';

export type GatewayMode = 'hold' | 'tick' | 'idle' | 'dashboard';

export interface ChaosProfile {
  name: string;
  mode: GatewayMode;
  grant: boolean;
  intervalMs: number;
  /** Run under `services:` (as the dashboard is), not as a profile's gateway. */
  service?: boolean;
  /** Dispatch kanban workers (short tasks, so they end on their own after the run), as Hermes's dispatcher does. */
  dispatch?: boolean;
}

/** A dispatching gateway's workers: a few at a time, each on its task for a few seconds. */
const WORKER_ARGS = ['--spawn-worker-every-ms', '1500', '--max-workers', '2', '--worker-ms', '4000'];

/** How long the run waits, after the final stop, for the last workers to finish their tasks. */
export const WORKER_END_MS = 30_000;

export type JournalMode = 'wal' | 'delete';

/**
 * Eight writers on the shared board (one connection held, or one per tick), one of them dispatching
 * kanban workers that outlive it, two denied idlers, and a dashboard service holding one long-lived
 * connection and writing, as Hermes's `/events` socket does.
 */
export const CHAOS_PROFILES: readonly ChaosProfile[] = [
  { name: 'hold-1', mode: 'hold', grant: true, intervalMs: 100 },
  { name: 'hold-2', mode: 'hold', grant: true, intervalMs: 100 },
  { name: 'hold-3', mode: 'hold', grant: true, intervalMs: 100 },
  { name: 'hold-4', mode: 'hold', grant: true, intervalMs: 120, dispatch: true },
  { name: 'tick-1', mode: 'tick', grant: true, intervalMs: 250 },
  { name: 'tick-2', mode: 'tick', grant: true, intervalMs: 300 },
  { name: 'tick-3', mode: 'tick', grant: true, intervalMs: 350 },
  { name: 'tick-4', mode: 'tick', grant: true, intervalMs: 400 },
  { name: 'idle-1', mode: 'idle', grant: false, intervalMs: 1000 },
  { name: 'idle-2', mode: 'idle', grant: false, intervalMs: 1000 },
  { name: 'dashboard', mode: 'dashboard', grant: true, intervalMs: 300, service: true },
];

export const RESTART_SETTINGS = {
  stop_timeout: '3s',
  ready_after: '300ms',
  max_parallel: 3,
  debounce: '100ms',
  // Chaos kills gateways on purpose: back off briefly and never give up on one during the run.
  backoff: { initial: '200ms', max: '2s', reset_after: '10s' },
  give_up: { crashes: 30, within: '60s' },
};

export const HEALTH_SETTINGS = { poll_interval: '200ms' };

export interface ChaosFleet {
  /** The run's temp folder; every process the run starts names it on its command line. */
  root: string;
  hermesHome: string;
  stateDir: string;
  board: string;
  logsDir: string;
  configFile: string;
  eventsFile: string;
  /** Shared log of every board init (the supervisor's init_command and the run's own). */
  initLog: string;
  /** The journal mode every init creates boards in and every process keeps. */
  journal: JournalMode;
  profiles: readonly ChaosProfile[];
  logFile(profile: string): string;
}

/**
 * A Hermes home with one profile per gateway and a supervisor config, in a fresh temp folder.
 * Each gateway's argv carries its own log path (`<root>/gateway-logs/<profile>.jsonl`): that
 * argument is the marker /proc is searched for.
 */
export function createChaosFleet(journal: JournalMode, profiles: readonly ChaosProfile[] = CHAOS_PROFILES): ChaosFleet {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hs-chaos-'));
  const hermesHome = path.join(root, 'hermes');
  const stateDir = path.join(root, 'state');
  const logsDir = path.join(root, 'gateway-logs');
  mkdirSync(path.join(hermesHome, 'profiles'), { recursive: true });
  mkdirSync(logsDir);
  const logFile = (profile: string) => path.join(logsDir, `${profile}.jsonl`);
  const initLog = path.join(logsDir, 'board-init.jsonl');
  const configFile = path.join(root, 'supervisor.yaml');
  const commandOf = (profile: ChaosProfile) => [
    python,
    fixture,
    '--profile',
    profile.name,
    '--log',
    logFile(profile.name),
    '--mode',
    profile.mode,
    '--interval-ms',
    String(profile.intervalMs),
    '--journal',
    journal,
    ...(profile.dispatch === true ? WORKER_ARGS : []),
    // Only an init creates a board, so each generation has one known creator and birth time.
    '--no-create',
  ];
  const services = profiles.filter((profile) => profile.service === true);

  writeFileSync(
    configFile,
    stringify({
      hermes_home: hermesHome,
      state_dir: stateDir,
      gateway: { command: [python, fixture, '--mode', 'idle', '--profile', '{profile}', '--log', logFile('{profile}')] },
      restart: RESTART_SETTINGS,
      kanban: { init_command: [python, fixture, '--mode', 'init', '--profile', 'board-init', '--log', initLog, '--journal', journal] },
      health: HEALTH_SETTINGS,
      ...(services.length > 0 ? { services: Object.fromEntries(services.map((service) => [service.name, { command: commandOf(service), kanban: service.grant }])) } : {}),
    }),
  );
  for (const profile of profiles.filter((each) => each.service !== true)) {
    const dir = path.join(hermesHome, 'profiles', profile.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'config.yaml'),
      stringify({
        kanban: profile.dispatch === true ? { enabled: profile.grant, dispatch_in_gateway: true } : { enabled: profile.grant },
        supervisor: { command: commandOf(profile) },
      }),
    );
  }
  return {
    root,
    hermesHome,
    stateDir,
    board: path.join(hermesHome, 'kanban.db'),
    logsDir,
    configFile,
    eventsFile: path.join(stateDir, 'events.jsonl'),
    initLog,
    journal,
    profiles,
    logFile,
  };
}
