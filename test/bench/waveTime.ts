// Figure 3: from a swap to every fenced gateway ready on the new file, in a rolling wave of
// `max_parallel` at a time, against the bound the wave's own pacing sets.
import { setTimeout as sleep } from 'node:timers/promises';
import { ofType, startBenchFleet, type BenchProfile } from './benchFleet.js';
import { summarize, type Summary } from './stats.js';
import { renameOver, waitForWriters } from './swapLatency.js';
import { firstWriteOnto } from './writeAnalysis.js';

export interface WaveTime {
  gateways: number;
  max_parallel: number;
  ready_after_ms: number;
  debounce_ms: number;
  swaps: number;
  /** ceil(N / max_parallel) * (stop + ready_after), stop taken as 0: see `stop_ms`. */
  lower_bound_ms: number;
  /** Swap to the last restarted gateway's gateway.ready. */
  all_ready_ms: Summary | null;
  /** Swap to the last gateway's first write into the new file. */
  all_writing_ms: Summary | null;
  /** Fence to the last fenced gateway's gateway.exit: all fenced gateways are stopped at once, up front. */
  stop_ms: Summary | null;
  overhead_ms: Summary | null;
  fenced_per_swap: Summary | null;
  samples: Array<{ all_ready_ms: number; stop_ms: number; slowest_exit: string }>;
}

const READY_AFTER_MS = 500;
const DEBOUNCE_MS = 250;

/** The latest of the gateways' first writes into the new file, waiting for any not there yet. */
async function lastFirstWrite(names: string[], first: (name: string) => number | null): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const firsts = names.map(first);
    if (firsts.every((t) => t !== null)) return Math.max(...(firsts as number[]));
    if (Date.now() > deadline) throw new Error('some gateways never wrote into the new file');
    await sleep(25);
  }
}

export async function measureWave(gateways: number, maxParallel: number, swaps: number): Promise<WaveTime> {
  const profiles: Record<string, BenchProfile> = {};
  for (let i = 1; i <= gateways; i++) profiles[`g${String(i).padStart(2, '0')}`] = { mode: 'hold', intervalMs: 100 };
  const names = Object.keys(profiles);
  const fleet = await startBenchFleet({
    prefix: `hs-bench-wave${maxParallel}-`,
    profiles,
    restart: { max_parallel: maxParallel, ready_after: `${READY_AFTER_MS}ms`, debounce: `${DEBOUNCE_MS}ms` },
  });
  const ready: number[] = [];
  const writing: number[] = [];
  const stops: number[] = [];
  const fenced: number[] = [];
  const samples: WaveTime['samples'] = [];
  try {
    await waitForWriters(fleet, names);
    for (let i = 0; i < swaps; i++) {
      await sleep(200);
      const waves = ofType(fleet.events(), 'wave.done').length;
      const { at, mono, next } = renameOver(fleet);
      const events = await fleet.waitForEvents((all) => ofType(all, 'wave.done').length > waves, 60_000);
      const done = ofType(events, 'wave.done')[waves]!;
      const restarted = done.restarted as string[];
      const fence = events.find((e) => e.type === 'board.fence' && e.ts_ms >= at)!;
      const after = events.filter((e) => e.ts_ms >= at && e.ts_ms <= done.ts_ms);
      const readyAt = after.filter((e) => e.type === 'gateway.ready' && restarted.includes(String(e.profile))).map((e) => Number(e.mono_ms));
      const exits = after.filter((e) => e.type === 'gateway.exit');
      const slowest = exits.reduce((a, b) => (b.ts_ms > a.ts_ms ? b : a));
      ready.push(Math.max(...readyAt) - mono);
      stops.push(slowest.ts_ms - fence.ts_ms);
      samples.push({
        all_ready_ms: Math.round(ready.at(-1)!),
        stop_ms: Math.round(stops.at(-1)!),
        slowest_exit: `${String(slowest.profile)} ${String(slowest.signal ?? `code ${String(slowest.code)}`)}`,
      });
      fenced.push((fence.profiles as string[]).length);
      writing.push((await lastFirstWrite(names, (name) => firstWriteOnto(fleet.log(name), next, at))) - at);
    }
  } finally {
    await fleet.dispose();
  }
  const bound = Math.ceil(gateways / maxParallel) * READY_AFTER_MS;
  return {
    gateways,
    max_parallel: maxParallel,
    ready_after_ms: READY_AFTER_MS,
    debounce_ms: DEBOUNCE_MS,
    swaps,
    lower_bound_ms: bound,
    all_ready_ms: summarize(ready, 0),
    all_writing_ms: summarize(writing, 0),
    stop_ms: summarize(stops, 1),
    overhead_ms: summarize(ready.map((r) => r - bound), 0),
    fenced_per_swap: summarize(fenced, 0),
    samples,
  };
}
