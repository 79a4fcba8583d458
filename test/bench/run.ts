// `npm run bench`: the supervisor's figures on this machine, side by side with plain processes and
// PM2. Writes bench-results/bench.json and docs/timeline.svg, prints Markdown tables.
// `--quick`: a few repetitions of everything, for a smoke run (its picture goes to bench-results/).
// `--only <case>`: one case alone (swap, swap-delete, workers, wave, idle, audit, side-by-side),
// written to bench-results/bench-<case>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { runCleanups } from './cleanup.js';
import { foldRuns, withRatios } from './comparison.js';
import { measureAuditCost, measureIdleCost } from './idleCost.js';
import { machineInfo } from './machine.js';
import { markdown, type BenchReport } from './report.js';
import { RUNNERS, SCENARIO, runSideBySide, type ComparisonRow, type RunnerKind, type SideBySideResult } from './sideBySide.js';
import { measureSwapLatency } from './swapLatency.js';
import { timelineSvg } from './timeline.js';
import { measureWave } from './waveTime.js';
import { measureWorkerSwap } from './workerSwap.js';

const quick = process.argv.includes('--quick');
const plan = quick
  ? { swaps: 4, deleteSwaps: 4, workerSwaps: 3, waveSwaps: 1, idleCases: [{ gateways: 10, boards: 1 }], idleWindowS: 5, idleSettleS: 12, auditSizes: [50], comparisonRuns: 1, windowMs: 5000 }
  : {
      swaps: 20,
      deleteSwaps: 10,
      workerSwaps: 10,
      waveSwaps: 5,
      idleCases: [
        { gateways: 10, boards: 1 },
        { gateways: 50, boards: 1 },
        { gateways: 200, boards: 1 },
        { gateways: 30, boards: 50 },
      ],
      // Past V8's memory-reducing GCs, 100-160 s after a start, which are no steady-state cost.
      idleWindowS: 120,
      idleSettleS: 180,
      auditSizes: [50, 200],
      comparisonRuns: 3,
      windowMs: 5000,
    };

const NOTES = [
  'Supervisor latencies are measured on CLOCK_MONOTONIC, which both the bench and the supervisor read (events carry mono_ms); writes are placed on a wall clock anchored when the supervisor was spawned; the gateways log whole milliseconds, so a write in the swap\'s own millisecond is not counted as late.',
  'With 20-odd samples p99 is the largest or second largest value: read it as "worst seen".',
  '"Unneeded" restarts: for PM2, every restart except the first one after the swap of each hold-mode gateway (the tick-mode gateway never holds the old file for long); for hermes-supervisor, restarts of gateways it did not fence.',
  '"Missing from the final board": writes acknowledged after the swap whose row (payload pid and sequence number) is not in the board once everything stopped. "Old-file rows in the final board": writes acknowledged into the old file that nevertheless show up in the new board, carried over through the old -wal/-shm that new connections find by name; integrity_check cannot see this, as both files have the same schema.',
  'New file after each swap: once its wave is done (or 1 s after board.swap when nobody was fenced, hence no wave), integrity_check of the file at the path, and the count of its rows that the gateways logged as acknowledged into another file (0 expected).',
  'Kanban workers open the board per tool call; a worker is stale when the bench finds the old file or its -wal/-shm among its fds right after the rename, when it writes into the old file after the swap, or when the fence kills it. "Gone or writing on the new file": killed, or its next call opened the new file.',
  '"Fenced gateway" in the recovery table: for hermes-supervisor, the gateways its board.fence named; for the other runners, the 4 hold-mode gateways, which hold the old file and are the ones the supervisor fences. The ratio divides each median by that of PM2 watching the board file.',
  'The supervisor\'s wave timings use ready_after 500 ms (default 3 s) so that a wave fits the observation window; "every gateway writing on the new file" grows with ready_after and shrinks with max_parallel.',
];

function progress(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

const CASES = ['swap', 'swap-delete', 'workers', 'wave', 'idle', 'audit', 'side-by-side'] as const;
type Case = (typeof CASES)[number];

/** The case `--only` names, or null for all of them; an unknown name is an error naming the choices. */
function onlyCase(argv: string[]): Case | null {
  const index = argv.indexOf('--only');
  if (index < 0) return null;
  const name = argv[index + 1];
  if (!CASES.includes(name as Case)) throw new Error(`--only: expected one of ${CASES.join(', ')}, got ${name === undefined ? 'nothing' : `'${name}'`}`);
  return name as Case;
}

const only = (() => {
  try {
    return onlyCase(process.argv);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
})();

async function main(): Promise<void> {
  const started = Date.now();
  const info = machineInfo();
  const figures: BenchReport['figures'] = { swap: [], wave: [], idle: [], audit: [], workers: null };
  const runs = (name: Case) => only === null || only === name;

  if (runs('swap')) {
    for (const detection of ['watch', 'poll'] as const) {
      progress(`swap detection (${detection}), WAL board, ${plan.swaps} swaps`);
      figures.swap.push(await measureSwapLatency(detection, plan.swaps, 'wal'));
    }
  }
  if (runs('swap-delete')) {
    for (const detection of ['watch', 'poll'] as const) {
      progress(`swap detection (${detection}), rollback-journal (DELETE) board, ${plan.deleteSwaps} swaps`);
      figures.swap.push(await measureSwapLatency(detection, plan.deleteSwaps, 'delete'));
    }
  }
  if (runs('workers')) {
    progress(`swaps with kanban workers on the board, ${plan.workerSwaps} swaps`);
    figures.workers = await measureWorkerSwap(plan.workerSwaps);
  }
  if (runs('wave')) {
    for (const maxParallel of [1, 3]) {
      progress(`wave of 10 gateways, max_parallel ${maxParallel}, ${plan.waveSwaps} swaps`);
      figures.wave.push(await measureWave(10, maxParallel, plan.waveSwaps));
    }
  }
  if (runs('idle')) {
    for (const { gateways, boards } of plan.idleCases) {
      progress(`idle cost, supervisor and PM2 side by side: ${gateways} gateways, ${boards} board(s), ${plan.idleWindowS} s after ${plan.idleSettleS} s`);
      figures.idle.push(await measureIdleCost(gateways, plan.idleWindowS, { boards, settleS: plan.idleSettleS }));
    }
  }
  if (runs('audit')) {
    progress(`holder audit cost for ${plan.auditSizes.join(', ')} processes`);
    figures.audit = await measureAuditCost(plan.auditSizes);
  }

  const rows = new Map<RunnerKind, ComparisonRow[]>();
  let timeline: SideBySideResult['timeline'];
  for (let run = 1; runs('side-by-side') && run <= plan.comparisonRuns; run++) {
    // Runners take turns, so a noisy minute on the shared machine does not land on one of them.
    for (const kind of Object.keys(RUNNERS) as RunnerKind[]) {
      progress(`side by side, run ${run}/${plan.comparisonRuns}: ${RUNNERS[kind]}`);
      const result = await runSideBySide(kind, plan.windowMs);
      rows.set(kind, [...(rows.get(kind) ?? []), result.row]);
      timeline ??= result.timeline;
    }
  }

  const report: BenchReport = {
    generated_at: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    ...(only ? { only } : {}),
    duration_s: Math.round((Date.now() - started) / 1000),
    ...info,
    figures,
    comparison: withRatios([...rows].map(([kind, runs]) => foldRuns(kind, runs))),
    notes: NOTES,
  };

  const resultsDir = path.join(repoRoot, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const jsonFile = `bench${only ? `-${only}` : ''}.json`;
  writeFileSync(path.join(resultsDir, jsonFile), `${JSON.stringify(report, null, 2)}\n`);
  if (timeline) {
    const svg = timelineSvg({
      title: 'One rename-over swap under hermes-supervisor, from events.jsonl',
      subtitle: `4 hold-mode gateways + 1 tick-mode gateway; max_parallel 1, ready_after 500 ms, debounce 250 ms (${report.generated_at.slice(0, 10)}, ${info.machine.cpus} CPUs)`,
      at: timeline.at,
      events: timeline.events,
      profiles: Object.keys(SCENARIO),
    });
    const svgFile = quick || only ? path.join(resultsDir, 'timeline.svg') : path.join(repoRoot, 'docs', 'timeline.svg');
    mkdirSync(path.dirname(svgFile), { recursive: true });
    writeFileSync(svgFile, svg);
    progress(`wrote ${path.relative(repoRoot, svgFile)}`);
  }
  progress(`wrote bench-results/${jsonFile} in ${report.duration_s} s`);
  console.log(markdown(report));
}

// A reader that goes away (`| head`) must not cut the clean-up short.
process.stdout.on('error', () => undefined);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    progress(`${signal}: cleaning up`);
    void runCleanups().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error(error);
} finally {
  await runCleanups();
}
