// Figure 3: kanban workers on a board that is replaced. Workers open the board per tool call and
// outlive their gateway; a worker caught with the old file or its -wal/-shm open right after the
// swap, that writes into the old file after the swap, or that the fence kills, is stale. How soon is every stale worker gone (killed) or off the
// old file (its next call opened the new one), how many rows do workers still write into the old
// file, and are the workers on the new file left alone?
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayEvent, WriteEvent } from '../helpers/gatewayLog.js';
import { ofType, startBenchFleet, type BenchFleet, type BenchProfile } from './benchFleet.js';
import { summarize, type Summary } from './stats.js';
import { renameOver, waitForWriters } from './swapLatency.js';
import { alive, holds } from './workerProc.js';
import { sameFile, type FileId } from './writeAnalysis.js';

const WORKERS = 3;
const INTERVAL_MS = 20;
/** How long after the swap a stale worker may take to go before it counts as a survivor. */
const WINDOW_MS = 3000;

const PROFILES: Record<string, BenchProfile> = {
  // The dispatcher holds the board too, so it is fenced with its workers; workers tick at its interval.
  d1: {
    mode: 'hold',
    intervalMs: INTERVAL_MS,
    dispatch: true,
    args: ['--spawn-worker-every-ms', '200', '--max-workers', String(WORKERS), '--worker-ms', '6000'],
  },
  h1: { mode: 'hold', intervalMs: 100 },
};

export interface WorkerSample {
  at: number;
  old: FileId;
  /** Workers alive at the swap. */
  workers: number;
  /** Of them, those with the old file or its sidecars open right after the rename, that wrote into it after the swap, or that the fence killed. */
  stale: number[];
  /** Stale workers named in the swap's board.fence. */
  fenced: number[];
  /** Swap to the moment each stale worker was seen killed (gone from /proc, polled every 5 ms, without logging its stop); null: not killed in the window. */
  gone_ms: Record<string, number | null>;
  /** Swap to the moment each stale worker was gone or first wrote into another file; null: neither in the window. */
  off_old_ms: Record<string, number | null>;
  /** Stale workers alive at the window's end still holding the old file. */
  still_on_old: number[];
  /** Workers not stale that died in the window without logging their stop: killed on the new file, or crashed. */
  others_killed: number[];
  /** Every pid the swap's board.fence named (gateways and workers). */
  fence_pids: number[];
  /** Rows workers acknowledged into the old file after the swap. */
  rows_into_old: number;
}

export interface WorkerSwapFigure {
  swaps: number;
  workers_interval_ms: number;
  window_ms: number;
  workers_at_swap: Summary | null;
  stale_total: number;
  fenced_total: number;
  /** Swap to every stale worker killed, over the swaps that had stale workers and saw all of them killed. */
  stale_gone_ms: Summary | null;
  /** Swap to every stale worker gone or writing on the new file, over the swaps with stale workers where all got there. */
  stale_off_old_ms: Summary | null;
  /** Stale workers not killed in the window: still working (on whichever file), or ended their task. */
  stale_not_killed_total: number;
  stale_still_on_old_total: number;
  rows_into_old_total: number;
  rows_into_old_per_swap: Summary | null;
  others_killed_total: number;
  gateways: string;
  samples: WorkerSample[];
}

/** Workers log `mode: "worker"`, a mode the gateway log's types do not list. */
const isWorker = (e: { mode: string }) => e.mode === 'worker';

/** Every worker the dispatcher's log names (workers log into their gateway's log), by pid. */
function workerPids(log: GatewayEvent[]): number[] {
  return log.filter((e) => e.event === 'start' && isWorker(e)).map((e) => e.pid);
}

function stoppedCleanly(log: GatewayEvent[], pid: number): boolean {
  return log.some((e) => e.event === 'stop' && e.pid === pid);
}

/** Waits until `count` workers are alive and each has written in the last second: they use the board. */
async function waitForWorkers(fleet: BenchFleet, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const log = fleet.log('d1');
    const recent = fleet.clock.now() - 1000;
    const busy = workerPids(log).filter((pid) => alive(pid) && log.some((e) => e.event === 'write' && e.pid === pid && e.ts_ms >= recent));
    if (busy.length >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${busy.length} kanban workers busy, expected ${count}`);
    await sleep(25);
  }
}

export async function measureWorkerSwap(swaps: number): Promise<WorkerSwapFigure> {
  const fleet = await startBenchFleet({ prefix: 'hs-bench-workers-', profiles: PROFILES, restart: { max_parallel: 2, debounce: '250ms' } });
  try {
    await waitForWriters(fleet, Object.keys(PROFILES));
    const samples: WorkerSample[] = [];
    for (let i = 0; i < swaps; i++) {
      await waitForWorkers(fleet, WORKERS);
      const generation = i + 2;
      const waves = ofType(fleet.events(), 'wave.done').length;
      const before = workerPids(fleet.log('d1')).filter(alive);
      // The old sidecars stay at their names: a worker opening the new file right after the swap may pair it with them.
      const oldSidecars = ['-wal', '-shm'].flatMap((suffix) => {
        const st = statSync(`${fleet.board}${suffix}`, { throwIfNoEntry: false });
        return st ? [{ dev: st.dev, ino: st.ino }] : [];
      });
      const { at, old } = renameOver(fleet);
      // Read at once: a worker opens the board per tool call, so the old file is open only mid-call.
      const holding = before.filter((pid) => [old, ...oldSidecars].some((file) => holds(pid, file)));
      const goneAt = new Map<number, number>();
      let waveDone = false;
      // The whole window is watched: a worker that wrote into the old file is known only from the log, later.
      while (!waveDone || fleet.clock.now() - at < WINDOW_MS) {
        for (const pid of before) if (!goneAt.has(pid) && !alive(pid)) goneAt.set(pid, fleet.clock.now());
        waveDone = ofType(fleet.events(), 'wave.done').length > waves;
        if (!waveDone && fleet.clock.now() - at > 30_000) throw new Error('no wave after a swap with workers');
        await sleep(5);
      }
      const log = fleet.log('d1');
      const end = at + WINDOW_MS;
      const writes = log.filter((e): e is WriteEvent => e.event === 'write' && e.ts_ms > at && e.ts_ms <= end);
      const fence = fleet.events().find((e) => e.type === 'board.fence' && e.generation === generation);
      const fencedPids = new Set((fence?.pids as number[] | undefined) ?? []);
      const killed = (pid: number) => goneAt.has(pid) && !stoppedCleanly(log, pid);
      // board.fence lists every holder of a fenced gateway's tree, but kills only the stale ones outside its group.
      const stale = before.filter(
        (pid) => holding.includes(pid) || writes.some((w) => w.pid === pid && sameFile(w, old)) || (fencedPids.has(pid) && killed(pid)),
      );
      const offOld = (pid: number): number | null => {
        const moved = writes.find((w) => w.pid === pid && !sameFile(w, old))?.ts_ms;
        const gone = goneAt.get(pid);
        const first = Math.min(moved ?? Infinity, gone ?? Infinity);
        return first === Infinity ? null : Math.max(0, Math.round(first - at));
      };
      samples.push({
        at,
        old,
        workers: before.length,
        stale,
        fenced: stale.filter((pid) => fencedPids.has(pid)),
        gone_ms: Object.fromEntries(stale.map((pid) => [String(pid), killed(pid) ? Math.round(goneAt.get(pid)! - at) : null])),
        off_old_ms: Object.fromEntries(stale.map((pid) => [String(pid), offOld(pid)])),
        still_on_old: stale.filter((pid) => alive(pid) && holds(pid, old)),
        others_killed: before.filter((pid) => !stale.includes(pid) && killed(pid)),
        fence_pids: [...fencedPids],
        rows_into_old: 0,
      });
    }
    // Rows into the old file are counted once the run is over, each swap up to the next one.
    await sleep(300);
    const log = fleet.log('d1');
    samples.forEach((sample, index) => {
      const until = samples[index + 1]?.at ?? Infinity;
      sample.rows_into_old = log.filter((e) => e.event === 'write' && isWorker(e) && sameFile(e, sample.old) && e.ts_ms > sample.at && e.ts_ms < until).length;
    });
    const allOf = (times: Record<string, number | null>) => (Object.values(times).every((ms) => ms !== null) ? Math.max(...(Object.values(times) as number[])) : null);
    const withStale = samples.filter((s) => s.stale.length > 0);
    const present = (values: Array<number | null>) => values.filter((v): v is number => v !== null);
    const count = (pick: (s: WorkerSample) => number) => samples.reduce((sum, s) => sum + pick(s), 0);
    return {
      swaps,
      workers_interval_ms: INTERVAL_MS,
      window_ms: WINDOW_MS,
      workers_at_swap: summarize(samples.map((s) => s.workers), 0),
      stale_total: count((s) => s.stale.length),
      fenced_total: count((s) => s.fenced.length),
      stale_gone_ms: summarize(present(withStale.map((s) => allOf(s.gone_ms))), 0),
      stale_off_old_ms: summarize(present(withStale.map((s) => allOf(s.off_old_ms))), 0),
      stale_not_killed_total: count((s) => Object.values(s.gone_ms).filter((ms) => ms === null).length),
      stale_still_on_old_total: count((s) => s.still_on_old.length),
      rows_into_old_total: count((s) => s.rows_into_old),
      rows_into_old_per_swap: summarize(samples.map((s) => s.rows_into_old), 1),
      others_killed_total: count((s) => s.others_killed.length),
      gateways: `1 hold-mode dispatcher (up to ${WORKERS} workers, each writing every ${INTERVAL_MS} ms, opening the board per call) + 1 hold-mode gateway, WAL`,
      samples,
    };
  } finally {
    await fleet.dispose();
  }
}
