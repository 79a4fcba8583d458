// Figure 5: one rename-over swap under three ways of running the same gateways: plain processes,
// PM2 with a file watch on the board, and hermes-supervisor. What each leaves behind is read from
// the gateways' own write logs and from the board itself.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess } from '../../src/proc/index.js';
import { readGatewayLog, writesOf, type GatewayEvent } from '../helpers/gatewayLog.js';
import { integrityCheck } from '../helpers/board.js';
import { python } from '../helpers/fixture.js';
import { fixtureArgs, grantedEnv, makeHermesHome, ofType, startBenchFleet, type BenchProfile, type SupervisorEvent } from './benchFleet.js';
import { AnchoredClock } from './clock.js';
import { rowsInBoard, safely } from './boardRows.js';
import { onCleanup, tempRoot } from './cleanup.js';
import { Pm2 } from './pm2.js';
import { renameOver } from './swapLatency.js';
import { errorKinds, errorsAfter, firstWriteOnto, lateWrites, sameFile, writeKeys } from './writeAnalysis.js';

export type RunnerKind = 'plain' | 'pm2-file' | 'pm2-folder' | 'hermes-supervisor';

export const RUNNERS: Record<RunnerKind, string> = {
  plain: 'plain processes',
  'pm2-file': 'PM2, watch the board file',
  'pm2-folder': "PM2, watch the board's folder",
  'hermes-supervisor': 'hermes-supervisor',
};

export const SCENARIO: Record<string, BenchProfile> = {
  h1: { mode: 'hold', intervalMs: 100 },
  h2: { mode: 'hold', intervalMs: 100 },
  h3: { mode: 'hold', intervalMs: 100 },
  h4: { mode: 'hold', intervalMs: 100 },
  t1: { mode: 'tick', intervalMs: 100 },
};
const HOLDERS = ['h1', 'h2', 'h3', 'h4'];
const SETTLE_MS = 2000;

export interface Restarts {
  total: number;
  /** Restarts of gateways that held nothing stale: restarted before the swap, not holding the old file, or more than once. */
  unneeded: number;
  detail: string;
}

export interface ComparisonRow {
  runner: RunnerKind;
  settings: string;
  window_ms: number;
  writes_after_swap: number;
  /** Acknowledged after the swap into the old file, which is no longer at the path. */
  lost_into_old_inode: number;
  /** Acknowledged after the swap, yet not in the board once everything stopped (null: board unreadable). */
  missing_from_board: number | null;
  /** Writes acknowledged into the old file (before or after the swap) that show up in the new board. */
  old_rows_in_board: number | null;
  errors_after_swap: number;
  error_kinds: Record<string, number>;
  restarts: Restarts;
  /** Swap to the moment the last gateway first wrote into the new file; null: not within the window. */
  all_on_new_file_ms: number | null;
  on_new_file_ms: Record<string, number | null>;
  /**
   * The gateways that held the old file: for the supervisor those it fenced, for the others the
   * hold-mode ones (the ones it would fence; the tick-mode gateway reopens by path on its own).
   */
  fenced_profiles: string[];
  /** Swap to the last of them first writing into the new file; null: not all within the window. */
  fenced_on_new_file_ms: number | null;
  integrity: string;
  /** Why the board's rows could not be read, when they could not. */
  board_error?: string;
}

interface Running {
  settings: string;
  clock: AnchoredClock;
  board: string;
  logsDir: string;
  /** Called right before the swap. */
  beforeSwap?(): Promise<void>;
  /** Read while the runner still runs (PM2's counters live in its daemon). */
  restarts(at: number, logs: Record<string, GatewayEvent[]>): Promise<Restarts>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
  events?: () => SupervisorEvent[];
}

/** A start after the swap of a profile whose pre-swap process held the old file: the one restart it needs. */
function neededRestarts(logs: Record<string, GatewayEvent[]>, at: number): number {
  return HOLDERS.filter((profile) => logs[profile]!.some((e) => e.event === 'start' && e.ts_ms > at)).length;
}

async function startPlain(): Promise<Running> {
  const temp = tempRoot('hs-bench-vs-plain-');
  const home = makeHermesHome(temp.root, SCENARIO);
  const clock = new AnchoredClock();
  const children = Object.entries(SCENARIO).map(([name, profile]) =>
    startProcess([python, ...fixtureArgs(name, profile, home.logsDir)], { env: grantedEnv(home.profileDirs[name]!, home.hermesHome), graceMs: 5000 }),
  );
  const stop = onCleanup(async () => {
    await Promise.all(children.map((child) => child.stop()));
  });
  return {
    settings: 'each gateway spawned once, nothing watches the board',
    clock,
    board: home.board,
    logsDir: home.logsDir,
    restarts: async () => ({ total: 0, unneeded: 0, detail: 'never restarted' }),
    stop,
    dispose: temp.dispose,
  };
}

async function startPm2(watch: 'file' | 'folder'): Promise<Running> {
  const temp = tempRoot(`hs-bench-vs-pm2${watch}-`);
  const home = makeHermesHome(temp.root, SCENARIO);
  const pm2 = new Pm2(temp.root);
  const clock = new AnchoredClock();
  const stop = onCleanup(() => pm2.kill());
  try {
    await pm2.start(
      Object.entries(SCENARIO).map(([name, profile]) => {
        const [script, ...args] = fixtureArgs(name, profile, home.logsDir);
        return { name, interpreter: python, script: script!, args, env: grantedEnv(home.profileDirs[name]!, home.hermesHome), watch: [watch === 'file' ? home.board : home.hermesHome] };
      }),
    );
  } catch (error) {
    await stop();
    await temp.dispose();
    throw error;
  }
  const total = (list: Awaited<ReturnType<Pm2['list']>>) => list.reduce((sum, p) => sum + p.restart_time, 0);
  let beforeSwap = 0;
  return {
    settings: `fork mode, watch: [${watch === 'file' ? '<hermes_home>/kanban.db' : '<hermes_home>'}], watch_delay and kill_timeout default (0, 1.6 s)`,
    clock,
    board: home.board,
    logsDir: home.logsDir,
    async beforeSwap() {
      beforeSwap = total(await pm2.list());
    },
    async restarts(at, logs) {
      const list = await pm2.list();
      const needed = neededRestarts(logs, at);
      const perApp = list.map((p) => `${p.name}:${p.restart_time}`).join(' ');
      return { total: total(list), unneeded: total(list) - needed, detail: `${perApp}; ${beforeSwap} before the swap` };
    },
    stop,
    dispose: temp.dispose,
  };
}

async function startSupervised(): Promise<Running> {
  const restart = { max_parallel: 1, ready_after: '500ms', stop_timeout: '3s' };
  const fleet = await startBenchFleet({ prefix: 'hs-bench-vs-supervisor-', profiles: SCENARIO, restart });
  return {
    settings: 'max_parallel 1, ready_after 500ms, debounce 250ms, watch + the default 2 s poll',
    clock: fleet.clock,
    board: fleet.board,
    logsDir: fleet.logsDir,
    async restarts(at) {
      const events = fleet.events();
      const restarts = ofType(events, 'gateway.spawn').filter((e) => e.reason !== 'start');
      const fenced = new Set(fencedSince(events, at));
      const perProfile = new Map<string, number>();
      for (const e of restarts) perProfile.set(String(e.profile), (perProfile.get(String(e.profile)) ?? 0) + 1);
      let unneeded = 0;
      for (const [profile, count] of perProfile) unneeded += fenced.has(profile) ? count - 1 : count;
      return {
        total: restarts.length,
        unneeded,
        detail: `fenced: ${[...fenced].sort().join(',') || 'none'}; restarted: ${[...perProfile].map(([p, c]) => `${p}:${c}`).join(' ') || 'none'}`,
      };
    },
    stop: fleet.stop,
    dispose: fleet.dispose,
    events: fleet.events,
  };
}

export interface SideBySideResult {
  row: ComparisonRow;
  /** The supervisor's events from the swap to the end of its wave (for the timeline). */
  timeline?: { at: number; events: SupervisorEvent[] };
}

export async function runSideBySide(kind: RunnerKind, windowMs: number): Promise<SideBySideResult> {
  const running =
    kind === 'plain' ? await startPlain() : kind === 'hermes-supervisor' ? await startSupervised() : await startPm2(kind === 'pm2-file' ? 'file' : 'folder');
  const logOf = (profile: string) => readGatewayLog(path.join(running.logsDir, `${profile}.jsonl`));
  const profiles = Object.keys(SCENARIO);
  try {
    const deadline = Date.now() + 20_000;
    while (!profiles.every((profile) => writesOf(logOf(profile)).length > 0)) {
      if (Date.now() > deadline) throw new Error(`${kind}: gateways never wrote`);
      await sleep(25);
    }
    await sleep(SETTLE_MS);
    await running.beforeSwap?.();
    const { at, mono, old, next } = renameOver(running);
    await sleep(windowMs);
    const during = Object.fromEntries(profiles.map((profile) => [profile, logOf(profile)]));
    const restarts = await running.restarts(at, during);
    const events = running.events?.();
    await running.stop();

    const logs = profiles.map(logOf);
    const end = at + windowMs;
    const keys = new Map(logs.flatMap((log) => [...writeKeys(log)]));
    const afterSwap = [...keys.keys()].filter((w) => w.ts_ms > at);
    const intoOld = [...keys.keys()].filter((w) => sameFile(w, old));
    const errors = logs.flatMap((log) => errorsAfter(log, at));
    const onNew = Object.fromEntries(
      profiles.map((profile, i) => {
        const first = firstWriteOnto(logs[i]!, next, at);
        return [profile, first !== null && first <= end ? Math.round(first - at) : null];
      }),
    );
    const fenced = events ? fencedSince(events, at) : HOLDERS;
    const fencedTimes = fenced.map((profile) => onNew[profile] ?? null);
    const rows = safely(() => rowsInBoard(running.board));
    const integrity = safely(() => integrityCheck(running.board));
    const timeline = events ? supervisorTimeline(events, at, mono) : undefined;
    return {
      row: {
        runner: kind,
        settings: running.settings,
        window_ms: windowMs,
        writes_after_swap: afterSwap.length,
        lost_into_old_inode: logs.reduce((sum, log) => sum + lateWrites(log, old, at).length, 0),
        missing_from_board: typeof rows === 'string' ? null : afterSwap.filter((w) => !rows.has(keys.get(w)!)).length,
        old_rows_in_board: typeof rows === 'string' ? null : intoOld.filter((w) => rows.has(keys.get(w)!)).length,
        errors_after_swap: errors.length,
        error_kinds: errorKinds(errors),
        restarts,
        all_on_new_file_ms: Object.values(onNew).some((t) => t === null) ? null : Math.max(...(Object.values(onNew) as number[])),
        on_new_file_ms: onNew,
        fenced_profiles: fenced,
        fenced_on_new_file_ms: fencedTimes.length === 0 || fencedTimes.some((t) => t === null) ? null : Math.max(...(fencedTimes as number[])),
        integrity,
        ...(typeof rows === 'string' ? { board_error: rows } : {}),
      },
      ...(timeline ? { timeline } : {}),
    };
  } finally {
    await running.dispose();
  }
}

/** The profiles the supervisor fenced from `at` on. */
function fencedSince(events: SupervisorEvent[], at: number): string[] {
  return [...new Set(ofType(events, 'board.fence').filter((e) => e.ts_ms >= at).flatMap((e) => e.profiles as string[]))].sort();
}

/** The supervisor's events of one swap, placed on the swap's clock through CLOCK_MONOTONIC (mono_ms). */
function supervisorTimeline(events: SupervisorEvent[], at: number, mono: number): SideBySideResult['timeline'] {
  const placed = events.map((e) => ({ ...e, ts_ms: at + (Number(e.mono_ms) - mono) }));
  const done = placed.find((e) => e.type === 'wave.done' && e.ts_ms >= at);
  const end = done ? done.ts_ms : Infinity;
  return { at, events: placed.filter((e) => e.ts_ms >= at && e.ts_ms <= end) };
}
