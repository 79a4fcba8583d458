import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { startSupervisor, type RunningSupervisor } from './cli.js';
import { makeFleetDir, type FleetDir } from './fleetDir.js';
import { readGatewayLog, type GatewayEvent } from './gatewayLog.js';
import { fixturesDir } from './paths.js';

/** The real interpreter behind `python3` (a pyenv shim costs ~100 ms a start). */
export const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
export const fixture = path.join(fixturesDir, 'hermes_gateway.py');

export type Mode = 'hold' | 'tick' | 'idle';

export interface SwapProfile {
  mode: Mode;
  grant: boolean;
  /** A command replacing the fixture, given the shared board's path (e.g. a gateway that ignores its grant). */
  command?: (board: string) => string[];
}

export interface SwapFleet extends FleetDir {
  board: string;
  logsDir: string;
  supervisor: RunningSupervisor;
  log(profile: string): GatewayEvent[];
  waitForEvent(predicate: (events: Array<Record<string, unknown>>) => boolean, timeoutMs?: number): Promise<Array<Record<string, unknown>>>;
}

/** The fixture's arguments for one profile's gateway, its write log in `logsDir`. */
export function fixtureArgs(name: string, mode: string, intervalMs: number, logsDir: string): string[] {
  return [fixture, '--profile', name, '--log', path.join(logsDir, `${name}.jsonl`), '--mode', mode, '--interval-ms', String(intervalMs)];
}

/** Creates a board the way `hermes kanban init` does, at `file`. */
export function initBoard(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  execFileSync(python, [fixture, '--mode', 'init', '--db', file]);
}

export function integrityCheck(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (db.pragma('integrity_check', { simple: true }) as string) ?? 'no result';
  } finally {
    db.close();
  }
}

/** Starts a supervisor over Hermes-like gateways on one shared board (`<hermes_home>/kanban.db`). */
export async function startSwapFleet(
  t: ExecutionContext,
  profiles: Record<string, SwapProfile>,
  settings: { restart?: Record<string, unknown>; health?: Record<string, unknown> } = {},
): Promise<SwapFleet> {
  const fleet = makeFleetDir(t, 'hs-swap-');
  const board = path.join(fleet.hermesHome, 'kanban.db');
  const logsDir = path.join(fleet.root, 'gateway-logs');
  mkdirSync(logsDir);
  initBoard(board);
  fleet.config({
    gateway: { command: [python, fixture, '--profile', '{profile}', '--log', path.join(logsDir, '{profile}.jsonl')] },
    restart: { stop_timeout: '3s', ready_after: '500ms', debounce: '100ms', ...settings.restart },
    health: { poll_interval: '200ms', ...settings.health },
  });
  for (const [name, profile] of Object.entries(profiles)) {
    fleet.profile(name, {
      kanban: profile.grant ? { enabled: true, dispatch_in_gateway: false } : { enabled: false },
      supervisor: {
        command: profile.command?.(board) ?? [python, ...fixtureArgs(name, profile.mode, profile.mode === 'tick' ? 1000 : 100, logsDir)],
      },
    });
  }
  const supervisor = startSupervisor(['--config', fleet.configFile]);
  t.teardown(async () => {
    if (supervisor.child.exitCode === null) {
      supervisor.child.kill('SIGTERM');
      await Promise.race([supervisor.exited, sleep(10_000, undefined, { ref: false })]);
      supervisor.child.kill('SIGKILL');
    }
  });
  const swapFleet: SwapFleet = {
    ...fleet,
    board,
    logsDir,
    supervisor,
    log: (profile) => readGatewayLog(path.join(logsDir, `${profile}.jsonl`)),
    async waitForEvent(predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const events = fleet.events();
        if (predicate(events)) return events;
        await sleep(25);
      }
      throw new Error(`timed out; events: ${fleet.events().map((event) => `${event.type}${event.profile ? `(${event.profile})` : ''}`).join(' ')}\n${supervisor.output().slice(-3000)}`);
    },
  };
  const expected = Object.keys(profiles).length;
  await swapFleet.waitForEvent((events) => events.filter((event) => event.type === 'gateway.ready').length >= expected);
  return swapFleet;
}

/** The ways an operator replaces a board file; each returns when (epoch ms) the old file left the path. */
export const swaps = {
  /** rm kanban.db* then a fresh init at the same path. */
  rmRecreate(board: string): number {
    const at = Date.now();
    for (const suffix of ['', '-wal', '-shm']) rmSync(board + suffix, { force: true });
    initBoard(board);
    return at;
  },
  /** A new file prepared beside it and renamed over it (old sidecars stay behind by name). */
  renameOver(board: string): number {
    initBoard(`${board}.new`);
    const at = Date.now();
    renameSync(`${board}.new`, board);
    return at;
  },
  /** A backup (made earlier with the backup API) renamed back into place. */
  restore(board: string, backup: string): number {
    const at = Date.now();
    renameSync(backup, board);
    return at;
  },
};

/** A consistent copy of a live board through SQLite's backup API (never cp). */
export async function backupBoard(board: string, destination: string): Promise<void> {
  const db = new Database(board, { readonly: true, timeout: 5000 });
  try {
    await db.backup(destination);
  } finally {
    db.close();
  }
}

export const eventsOf = (events: Array<Record<string, unknown>>, type: string) => events.filter((event) => event.type === type);
