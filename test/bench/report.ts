// The Markdown tables `npm run bench` prints, from the JSON report.
import { REFERENCE, type ComparisonEntry } from './comparison.js';
import type { AuditCostResult } from './auditCost.js';
import type { IdleCase } from './idleCost.js';
import type { MachineInfo } from './machine.js';
import type { Summary } from './stats.js';
import type { SwapLatency } from './swapLatency.js';
import type { WaveTime } from './waveTime.js';
import type { WorkerSwapFigure } from './workerSwap.js';

export interface BenchReport extends MachineInfo {
  generated_at: string;
  mode: 'full' | 'quick';
  /** The one case run (`--only`), when not all of them. */
  only?: string;
  duration_s: number;
  figures: {
    swap: SwapLatency[];
    wave: WaveTime[];
    idle: IdleCase[];
    audit: AuditCostResult[];
    workers: WorkerSwapFigure | null;
  };
  comparison: ComparisonEntry[];
  notes: string[];
}

/** "p50 / p99" with the range, or one number when there is nothing to spread. */
function spread(s: Summary | null, unit = ''): string {
  if (s === null) return 'n/a';
  if (s.n === 1 || s.min === s.max) return `${s.p50}${unit}`;
  return `${s.p50} / ${s.p99}${unit} (${s.min}–${s.max})`;
}

/** Median with min–max, for a handful of runs. */
function median(s: Summary | null, unit = ''): string {
  if (s === null) return 'n/a';
  if (s.n === 1 || s.min === s.max) return `${s.p50}${unit}`;
  return `${s.p50}${unit} (${s.min}–${s.max})`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function markdown(report: BenchReport): string {
  const { machine } = report;
  const out: string[] = [];
  out.push(
    `Machine: ${machine.cpus} × ${machine.cpu_model}, ${machine.mem_gb} GB, ${machine.kernel}; Node ${report.node}, SQLite ${report.sqlite} (better-sqlite3), Python ${report.python} with SQLite ${report.python_sqlite}. ` +
      `Run ${report.generated_at} (${report.mode}, ${report.duration_s} s). Shared machine: figures are noisy. Times in ms; "a / b (c–d)" is p50 / p99 (min–max).`,
  );

  if (report.figures.swap.length > 0) {
    out.push('\n**Swap → detection → fence** (rename-over swaps, 2 hold-mode + 1 tick-mode gateway writing every 100 ms; each new file checked once its wave is done)\n');
    out.push(
      table(
        ['journal_mode', 'detection', 'swaps', 'detected by', 'swap → board.swap', 'swap → gateways frozen', 'swap → board.fence (every stale holder, host scanned)', 'holder audit in the fence', 'writes into the old inode after the swap (total; per swap)', 'new file passes integrity_check', 'old-file rows in the new file'],
        report.figures.swap.map((s) => [
          s.journal_mode,
          s.detection === 'watch' ? `file events + ${s.poll_interval_ms} ms poll` : `stat poll only, every ${s.poll_interval_ms} ms`,
          String(s.swaps),
          Object.entries(s.detected_by).map(([k, v]) => `${k} ${v}`).join(', '),
          spread(s.detection_ms),
          spread(s.gateways_frozen_ms),
          `${spread(s.fence_ms)}${s.fenced_swaps < s.swaps ? `; fenced in ${s.fenced_swaps}/${s.swaps}` : ''}`,
          spread(s.audit_ms),
          `${s.late_writes_total}; ${median(s.late_writes_per_swap)}`,
          `${s.integrity_ok}/${s.swaps}`,
          `${s.old_rows_in_new_total}${s.unreadable > 0 ? `; unreadable in ${s.unreadable}` : ''}`,
        ]),
      ),
    );
  }

  const w = report.figures.workers;
  if (w) {
    out.push(`\n**Swaps with kanban workers on the board** (${w.gateways}; a worker is stale when it has the old file or its -wal/-shm open right after the rename, writes into the old file after the swap, or is killed by the fence; window ${w.window_ms / 1000} s)\n`);
    out.push(
      table(
        ['swaps', 'workers alive at the swap', 'stale workers (of them in board.fence)', 'swap → every stale worker killed', 'swap → every stale worker gone or writing on the new file', 'stale workers not killed (still holding the old file after the window)', 'worker rows into the old file after the swap (total; per swap)', 'workers on the new file killed'],
        [
          [
            String(w.swaps),
            median(w.workers_at_swap),
            `${w.stale_total} (${w.fenced_total})`,
            median(w.stale_gone_ms, ' ms'),
            median(w.stale_off_old_ms, ' ms'),
            `${w.stale_not_killed_total} (${w.stale_still_on_old_total})`,
            `${w.rows_into_old_total}; ${median(w.rows_into_old_per_swap)}`,
            String(w.others_killed_total),
          ],
        ],
      ),
    );
  }

  if (report.figures.wave.length > 0) {
    out.push('\n**Swap → every gateway ready on the new file** (10 hold-mode gateways, all fenced; bound = ceil(N / max_parallel) × ready_after, stop taken as 0 because fenced gateways are stopped together up front)\n');
    out.push(
      table(
        ['max_parallel', 'swaps', 'ready_after', 'debounce', 'lower bound', 'swap → last gateway.ready', 'over the bound', 'swap → last first write on the new file', 'stop (fence → last exit)'],
        report.figures.wave.map((w) => [
          String(w.max_parallel),
          String(w.swaps),
          `${w.ready_after_ms}`,
          `${w.debounce_ms}`,
          `${w.lower_bound_ms}`,
          median(w.all_ready_ms),
          median(w.overhead_ms),
          median(w.all_writing_ms),
          median(w.stop_ms),
        ]),
      ),
    );
  }

  if (report.figures.idle.length > 0) {
    out.push(
      '\n**Idle cost, side by side with PM2** (the same idle fixture gateways under each daemon, both up at once and sampled every second in the same window after the same settling time; CPU of every thread from /proc/<pid>/task/*/schedstat, main-thread wake-ups from its timeslice count, RSS from VmRSS, private memory from smaps_rollup)\n',
    );
    out.push(
      table(
        ['gateways', 'boards', 'window', 'CPU, % of a core: supervisor / PM2', 'CPU ratio', 'main-thread wake-ups: supervisor / PM2', 'RSS MB p50: supervisor / PM2', 'RSS ratio', 'private MB p50: supervisor / PM2', 'RSS slope MB/h: supervisor / PM2', 'fleet start'],
        report.figures.idle.map((c) => [
          String(c.gateways),
          String(c.boards),
          `${c.window_s} s after ${c.settle_s} s`,
          `${c.supervisor.cpu_percent} / ${c.pm2.cpu_percent}`,
          c.cpu_ratio === null ? 'n/a' : `${c.cpu_ratio}`,
          `${c.supervisor.main_thread_wakeups} / ${c.pm2.main_thread_wakeups}`,
          `${median(c.supervisor.rss_mb)} / ${median(c.pm2.rss_mb)}`,
          `${c.rss_ratio}`,
          `${median(c.supervisor.private_mb)} / ${median(c.pm2.private_mb)}`,
          `${c.supervisor.rss_slope_mb_per_h} / ${c.pm2.rss_slope_mb_per_h}`,
          `${c.supervisor.fleet_start_ms} ms`,
        ]),
      ),
    );
  }

  if (report.figures.audit.length > 0) {
    out.push('\n**One holder audit** (`node dist/test/bench/auditCost.js`: every gateway holds the board: db and -wal open, -shm mapped)\n');
    out.push(
      table(
        ['gateways', 'runs', 'fds only: p50 / p99', 'with /proc/<pid>/maps: p50 / p99', 'foreign-holder scan (all of /proc): p50', 'holders found', 'processes on the host'],
        report.figures.audit.map((a) => [
          String(a.gateways),
          String(a.runs),
          `${a.p50_ms} / ${a.p99_ms}`,
          `${a.maps_p50_ms} / ${a.maps_p99_ms}`,
          `${a.foreign_p50_ms}`,
          String(a.holders_found),
          String(a.host_processes),
        ]),
      ),
    );
  }

  if (report.comparison.length > 0) {
    const runs = report.comparison[0]?.runs ?? 0;
    const window = report.comparison[0]?.window_ms ?? 0;
    out.push(
      `\n**Side by side**: 4 hold-mode gateways + 1 tick-mode gateway, each writing every 100 ms; one rename-over swap, watched for ${window / 1000} s; median (min–max) over ${runs} run${runs === 1 ? '' : 's'}\n`,
    );
    out.push(
      table(
        ['', 'writes acknowledged after the swap', 'of them into the old inode (lost)', 'missing from the final board', 'old-file rows in the final board', 'I/O or corruption errors', 'restarts (of them unneeded)', 'swap → every gateway writing on the new file', 'integrity_check'],
        report.comparison.map((c) => [
          c.label,
          median(c.writes_after_swap),
          median(c.lost_into_old_inode),
          c.board_unreadable_runs > 0 ? `${median(c.missing_from_board)}; board unreadable in ${c.board_unreadable_runs}` : median(c.missing_from_board),
          median(c.old_rows_in_board),
          median(c.errors_after_swap),
          `${median(c.restarts_total)} (${median(c.restarts_unneeded)})`,
          c.never_on_new_file_runs === c.runs
            ? 'never'
            : `${median(c.all_on_new_file_ms, ' ms')}${c.never_on_new_file_runs > 0 ? `; never in ${c.never_on_new_file_runs}/${c.runs}` : ''}`,
          c.integrity.join('; '),
        ]),
      ),
    );

    const reference = report.comparison.find((c) => c.runner === REFERENCE);
    out.push(
      `\n**Recovery after the swap, side by side** (the same runs; fenced gateways: those hermes-supervisor fenced, and under the other runners the 4 hold-mode gateways it would fence, as they hold the old file; ratio: median over ${reference?.label ?? 'PM2'}'s median)\n`,
    );
    out.push(
      table(
        ['', 'swap → every fenced gateway writing on the new file', 'ratio to PM2', 'old-file rows in the new board', 'needless restarts'],
        report.comparison.map((c) => [
          c.label,
          c.never_fenced_on_new_file_runs === c.runs
            ? 'never'
            : `${median(c.fenced_on_new_file_ms, ' ms')}${c.never_fenced_on_new_file_runs > 0 ? `; never in ${c.never_fenced_on_new_file_runs}/${c.runs}` : ''}`,
          c.runner === REFERENCE ? '1' : c.fenced_on_new_file_ratio_to_pm2 === null ? 'n/a' : `${c.fenced_on_new_file_ratio_to_pm2}`,
          median(c.old_rows_in_board),
          median(c.restarts_unneeded),
        ]),
      ),
    );
  }
  out.push('');
  for (const c of report.comparison) out.push(`- ${c.label}: ${c.settings}.`);
  for (const note of report.notes) out.push(`- ${note}`);
  return out.join('\n');
}
