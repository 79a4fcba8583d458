// Figures 1 and 2: how soon a rename-over swap is noticed and its stale holders fenced, and how
// many writes still land in the old file meanwhile; with file events, and with the stat poll alone.
import { renameSync, statSync } from 'node:fs';
import { monotonicMs } from '../../src/events/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { writesOf } from '../helpers/gatewayLog.js';
import { initBoard } from '../helpers/board.js';
import { ofType, startBenchFleet, type BenchFleet } from './benchFleet.js';
import { summarize, type Summary } from './stats.js';
import { lateWrites, type FileId } from './writeAnalysis.js';

export interface SwapSample {
  at: number;
  old: FileId;
  detection_ms: number;
  detected_by: string;
  fence_ms: number | null;
  audit_ms: number | null;
  fenced: string[];
  wave_done_ms: number;
  late_writes: number;
}

export interface SwapLatency {
  detection: 'watch' | 'poll';
  poll_interval_ms: number;
  swaps: number;
  detected_by: Record<string, number>;
  detection_ms: Summary | null;
  fence_ms: Summary | null;
  audit_ms: Summary | null;
  wave_done_ms: Summary | null;
  late_writes_total: number;
  late_writes_per_swap: Summary | null;
  gateways: string;
  samples: SwapSample[];
}

const PROFILES = {
  h1: { mode: 'hold', intervalMs: 100 },
  h2: { mode: 'hold', intervalMs: 100 },
  t1: { mode: 'tick', intervalMs: 100 },
} as const;

const POLL_INTERVAL_MS = 1000;

/** Prepares a new board beside the live one and renames it over; returns the moment of the rename. */
export function renameOver(fleet: Pick<BenchFleet, 'board' | 'clock'>): { at: number; mono: number; old: FileId; next: FileId } {
  initBoard(`${fleet.board}.new`);
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

export async function measureSwapLatency(detection: 'watch' | 'poll', swaps: number): Promise<SwapLatency> {
  const fleet = await startBenchFleet({
    prefix: `hs-bench-${detection}-`,
    profiles: PROFILES,
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
      const { at, mono, old } = renameOver(fleet);
      const events = await fleet.waitForEvents(
        (all) => ofType(all, 'wave.done').length > waves && all.some((e) => e.type === 'board.swap' && e.generation === generation),
        30_000,
      );
      const swap = events.find((e) => e.type === 'board.swap' && e.generation === generation)!;
      const fence = events.find((e) => e.type === 'board.fence' && e.generation === generation && e.ts_ms >= at);
      const done = ofType(events, 'wave.done')[waves]!;
      samples.push({
        at,
        old,
        // Latencies on CLOCK_MONOTONIC, which the supervisor's events carry as mono_ms: one clock for both processes.
        detection_ms: Number(swap.mono_ms) - mono,
        detected_by: String(swap.detected_by),
        fence_ms: fence ? Number(fence.mono_ms) - mono : null,
        audit_ms: fence ? Number(fence.audit_ms) : null,
        fenced: fence ? (fence.profiles as string[]) : [],
        wave_done_ms: Number(done.mono_ms) - mono,
        late_writes: 0,
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
      poll_interval_ms: POLL_INTERVAL_MS,
      swaps,
      detected_by: detectedBy,
      detection_ms: summarize(samples.map((s) => s.detection_ms), 2),
      fence_ms: summarize(present(samples.map((s) => s.fence_ms)), 2),
      audit_ms: summarize(present(samples.map((s) => s.audit_ms)), 2),
      wave_done_ms: summarize(samples.map((s) => s.wave_done_ms), 0),
      late_writes_total: samples.reduce((sum, s) => sum + s.late_writes, 0),
      late_writes_per_swap: summarize(samples.map((s) => s.late_writes), 1),
      gateways: '2 hold-mode + 1 tick-mode fixture gateways, each writing every 100 ms',
      samples: samples.map((s) => ({ ...s, detection_ms: round2(s.detection_ms), fence_ms: s.fence_ms === null ? null : round2(s.fence_ms), wave_done_ms: Math.round(s.wave_done_ms) })),
    };
  } finally {
    await fleet.dispose();
  }
}

const round2 = (v: number) => Math.round(v * 100) / 100;
