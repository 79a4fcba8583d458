// Figures 1 and 2: how soon a rename-over swap is noticed and its stale holders fenced, and how
// many writes still land in the old file meanwhile; with file events, and with the stat poll alone;
// on a WAL board and on a rollback-journal (DELETE) one, each new file checked once its wave is done.
import { renameSync, statSync } from 'node:fs';
import { monotonicMs } from '../../src/events/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { writesOf } from '../helpers/gatewayLog.js';
import { initBoard } from '../helpers/board.js';
import { checkNewFile, type NewFileCheck } from './boardRows.js';
import { journalArgs, ofType, startBenchFleet, type BenchFleet, type BenchProfile, type JournalMode } from './benchFleet.js';
import { summarize, type Summary } from './stats.js';
import { lateWrites, type FileId } from './writeAnalysis.js';

export interface SwapSample {
  at: number;
  old: FileId;
  detection_ms: number;
  detected_by: string;
  fence_ms: number | null;
  /** Swap -> the gateways' holders frozen, before the host-wide scan for escapees and workers. */
  gateways_frozen_ms: number | null;
  audit_ms: number | null;
  fenced: string[];
  /** null: nobody was fenced, so no wave. */
  wave_done_ms: number | null;
  late_writes: number;
  /** The new file once the swap's wave is done. */
  new_file: NewFileCheck;
}

export interface SwapLatency {
  detection: 'watch' | 'poll';
  journal_mode: JournalMode;
  poll_interval_ms: number;
  swaps: number;
  detected_by: Record<string, number>;
  detection_ms: Summary | null;
  fence_ms: Summary | null;
  gateways_frozen_ms: Summary | null;
  audit_ms: Summary | null;
  /** Swaps where a stale holder was found and fenced (the others had none left by the audit). */
  fenced_swaps: number;
  wave_done_ms: Summary | null;
  late_writes_total: number;
  late_writes_per_swap: Summary | null;
  /** Swaps whose new file passed integrity_check. */
  integrity_ok: number;
  /** Rows acknowledged into an older file found in the new one, over every swap (0 expected). */
  old_rows_in_new_total: number;
  /** Swaps whose new file could not be read. */
  unreadable: number;
  gateways: string;
  samples: SwapSample[];
}

const PROFILES: Record<string, BenchProfile> = {
  h1: { mode: 'hold', intervalMs: 100 },
  h2: { mode: 'hold', intervalMs: 100 },
  t1: { mode: 'tick', intervalMs: 100 },
};

const POLL_INTERVAL_MS = 1000;
/** How long after board.swap a swap without a fence is taken to need no wave. */
const NO_WAVE_AFTER_MS = 1000;

/** Prepares a new board beside the live one and renames it over; returns the moment of the rename. */
export function renameOver(fleet: Pick<BenchFleet, 'board' | 'clock'>, journal: JournalMode = 'wal'): { at: number; mono: number; old: FileId; next: FileId } {
  initBoard(`${fleet.board}.new`, journal);
  const { dev, ino } = statSync(fleet.board);
  const at = fleet.clock.now();
  const mono = monotonicMs();
  renameSync(`${fleet.board}.new`, fleet.board);
  const next = statSync(fleet.board);
  return { at, mono, old: { dev, ino }, next: { dev: next.dev, ino: next.ino } };
}

/** Waits until every hold-mode gateway has written at least once: they hold the board. */
export async function waitForWriters(fleet: BenchFleet, profiles: string[], since = 0): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!profiles.every((profile) => writesOf(fleet.log(profile)).some((w) => w.ts_ms >= since))) {
    if (Date.now() > deadline) throw new Error(`gateways never wrote: ${profiles.join(', ')}`);
    await sleep(20);
  }
}

export async function measureSwapLatency(detection: 'watch' | 'poll', swaps: number, journal: JournalMode = 'wal'): Promise<SwapLatency> {
  const profiles = Object.fromEntries(Object.entries(PROFILES).map(([name, profile]) => [name, { ...profile, args: journalArgs(journal) }]));
  const fleet = await startBenchFleet({
    prefix: `hs-bench-${detection}-${journal}-`,
    profiles,
    journal,
    restart: { max_parallel: 3, debounce: '250ms' },
    health: { poll_interval: `${POLL_INTERVAL_MS}ms`, watch: detection === 'watch' },
  });
  try {
    await waitForWriters(fleet, Object.keys(PROFILES));
    const samples: SwapSample[] = [];
    for (let i = 0; i < swaps; i++) {
      // A random phase against the poll timer, so poll-only detection is sampled fairly.
      await sleep(detection === 'poll' ? Math.random() * POLL_INTERVAL_MS : 100);
      const generation = i + 2;
      const waves = ofType(fleet.events(), 'wave.done').length;
      const { at, mono, old, next } = renameOver(fleet, journal);
      // A swap with nobody to fence asks for no wave: in DELETE mode a stale holder's next write fails
      // (SQLITE_READONLY_DBMOVED) and it reopens the path on its own, often before a poll sees the swap.
      let swapSeenAt: number | null = null;
      const events = await fleet.waitForEvents((all) => {
        if (!all.some((e) => e.type === 'board.swap' && e.generation === generation)) return false;
        swapSeenAt ??= Date.now();
        if (ofType(all, 'wave.done').length > waves) return true;
        return !all.some((e) => e.type === 'board.fence' && e.generation === generation) && Date.now() - swapSeenAt > NO_WAVE_AFTER_MS;
      }, 30_000);
      const swap = events.find((e) => e.type === 'board.swap' && e.generation === generation)!;
      const fence = events.find((e) => e.type === 'board.fence' && e.generation === generation && e.ts_ms >= at);
      const done = ofType(events, 'wave.done')[waves];
      // Checked before the next swap makes this file the old one: fenced gateways are down by now.
      const newFile = checkNewFile(fleet.board, next, Object.keys(PROFILES).map((profile) => fleet.log(profile)));
      samples.push({
        at,
        old,
        // Latencies on CLOCK_MONOTONIC, which the supervisor's events carry as mono_ms: one clock for both processes.
        detection_ms: Number(swap.mono_ms) - mono,
        detected_by: String(swap.detected_by),
        fence_ms: fence ? Number(fence.mono_ms) - mono : null,
        // gateways_frozen_ts_ms is on the ts_ms clock: its distance to the event's ts_ms, taken off mono_ms.
        gateways_frozen_ms: fence && typeof fence.gateways_frozen_ts_ms === 'number' ? Number(fence.mono_ms) - (fence.ts_ms - fence.gateways_frozen_ts_ms) - mono : null,
        audit_ms: fence ? Number(fence.audit_ms) : null,
        fenced: fence ? (fence.profiles as string[]) : [],
        wave_done_ms: done ? Number(done.mono_ms) - mono : null,
        late_writes: 0,
        new_file: newFile,
      });
    }
    // Old-inode writes are counted once the run is over, each swap up to the next one.
    await sleep(300);
    const logs = Object.keys(PROFILES).map((profile) => fleet.log(profile));
    samples.forEach((sample, index) => {
      const until = samples[index + 1]?.at ?? Infinity;
      sample.late_writes = logs.reduce((sum, log) => sum + lateWrites(log, sample.old, sample.at, until).length, 0);
    });
    const detectedBy: Record<string, number> = {};
    for (const s of samples) detectedBy[s.detected_by] = (detectedBy[s.detected_by] ?? 0) + 1;
    const present = (values: Array<number | null>) => values.filter((v): v is number => v !== null);
    return {
      detection,
      journal_mode: journal,
      poll_interval_ms: POLL_INTERVAL_MS,
      swaps,
      detected_by: detectedBy,
      detection_ms: summarize(samples.map((s) => s.detection_ms), 2),
      fence_ms: summarize(present(samples.map((s) => s.fence_ms)), 2),
      gateways_frozen_ms: summarize(present(samples.map((s) => s.gateways_frozen_ms)), 2),
      audit_ms: summarize(present(samples.map((s) => s.audit_ms)), 2),
      fenced_swaps: samples.filter((s) => s.fence_ms !== null).length,
      wave_done_ms: summarize(present(samples.map((s) => s.wave_done_ms)), 0),
      late_writes_total: samples.reduce((sum, s) => sum + s.late_writes, 0),
      late_writes_per_swap: summarize(samples.map((s) => s.late_writes), 1),
      integrity_ok: samples.filter((s) => s.new_file.integrity === 'ok').length,
      old_rows_in_new_total: samples.reduce((sum, s) => sum + (s.new_file.old_rows ?? 0), 0),
      unreadable: samples.filter((s) => s.new_file.old_rows === null).length,
      gateways: '2 hold-mode + 1 tick-mode fixture gateways, each writing every 100 ms',
      samples: samples.map((s) => ({ ...s, detection_ms: round2(s.detection_ms), fence_ms: s.fence_ms === null ? null : round2(s.fence_ms), gateways_frozen_ms: s.gateways_frozen_ms === null ? null : round2(s.gateways_frozen_ms), wave_done_ms: s.wave_done_ms === null ? null : Math.round(s.wave_done_ms) })),
    };
  } finally {
    await fleet.dispose();
  }
}

const round2 = (v: number) => Math.round(v * 100) / 100;
