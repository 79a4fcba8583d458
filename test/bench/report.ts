// The Markdown tables `npm run bench` prints, from the JSON report.
import type { ComparisonEntry } from './comparison.js';
import type { AuditCostResult } from './auditCost.js';
import type { IdleCase } from './idleCost.js';
import type { MachineInfo } from './machine.js';
import type { Summary } from './stats.js';
import type { SwapLatency } from './swapLatency.js';
import type { WaveTime } from './waveTime.js';

export interface BenchReport extends MachineInfo {
  generated_at: string;
  mode: 'full' | 'quick';
  duration_s: number;
  figures: {
    swap: SwapLatency[];
    wave: WaveTime[];
    idle: IdleCase[];
    audit: AuditCostResult[];
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

  out.push('\n**Swap → detection → fence** (rename-over swaps, 2 hold-mode + 1 tick-mode gateway writing every 100 ms)\n');
  out.push(
    table(
      ['detection', 'swaps', 'detected by', 'swap → board.swap', 'swap → board.fence', 'holder audit in the fence', 'writes into the old inode after the swap (total; per swap)'],
      report.figures.swap.map((s) => [
        s.detection === 'watch' ? `file events + ${s.poll_interval_ms} ms poll` : `stat poll only, every ${s.poll_interval_ms} ms`,
        String(s.swaps),
        Object.entries(s.detected_by).map(([k, v]) => `${k} ${v}`).join(', '),
        spread(s.detection_ms),
        spread(s.fence_ms),
        spread(s.audit_ms),
        `${s.late_writes_total}; ${median(s.late_writes_per_swap)}`,
      ]),
    ),
  );

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

  out.push(
    '\n**Idle cost, side by side with PM2** (the same idle fixture gateways under each daemon, one after the other; CPU (utime + stime) from /proc/<pid>/stat, RSS from VmRSS, sampled every second after the same settling time)\n',
  );
  out.push(
    table(
      ['gateways', 'boards', 'window', 'supervisor CPU, % of a core', 'PM2 CPU, % of a core', 'CPU ratio', 'supervisor RSS MB (p50)', 'PM2 RSS MB (p50)', 'RSS ratio', 'RSS slope MB/h (supervisor / PM2)', 'fleet start'],
      report.figures.idle.map((c) => [
        String(c.gateways),
        String(c.boards),
        `${c.window_s} s after ${c.settle_s} s`,
        `${c.supervisor.cpu_percent}`,
        `${c.pm2.cpu_percent}`,
        c.cpu_ratio === null ? 'n/a' : `${c.cpu_ratio}`,
        median(c.supervisor.rss_mb),
        median(c.pm2.rss_mb),
        `${c.rss_ratio}`,
        `${c.supervisor.rss_slope_mb_per_h} / ${c.pm2.rss_slope_mb_per_h}`,
        `${c.supervisor.fleet_start_ms} ms`,
      ]),
    ),
  );

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
  out.push('');
  for (const c of report.comparison) out.push(`- ${c.label}: ${c.settings}.`);
  for (const note of report.notes) out.push(`- ${note}`);
  return out.join('\n');
}
