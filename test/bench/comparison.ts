// Repeated side-by-side runs of one runner, folded into one comparison entry.
import { RUNNERS, type ComparisonRow, type RunnerKind } from './sideBySide.js';
import { summarize, type Summary } from './stats.js';

export interface ComparisonEntry {
  runner: RunnerKind;
  label: string;
  settings: string;
  runs: number;
  window_ms: number;
  writes_after_swap: Summary | null;
  lost_into_old_inode: Summary | null;
  missing_from_board: Summary | null;
  old_rows_in_board: Summary | null;
  board_unreadable_runs: number;
  errors_after_swap: Summary | null;
  error_kinds: Record<string, number>;
  restarts_total: Summary | null;
  restarts_unneeded: Summary | null;
  restart_detail: string[];
  /** Over the runs where every gateway reached the new file inside the window. */
  all_on_new_file_ms: Summary | null;
  never_on_new_file_runs: number;
  /** Over the runs where every fenced gateway (see ComparisonRow.fenced_profiles) reached the new file inside the window. */
  fenced_on_new_file_ms: Summary | null;
  never_fenced_on_new_file_runs: number;
  /** This runner's median over PM2's (watching the board file); null for PM2 itself or when either never got there. */
  fenced_on_new_file_ratio_to_pm2: number | null;
  integrity: string[];
}

/** The runner the recovery figure is compared with: the one that restarts on a swap without knowing what a swap is. */
export const REFERENCE: RunnerKind = 'pm2-file';

export function foldRuns(runner: RunnerKind, rows: ComparisonRow[]): ComparisonEntry {
  const numbers = (pick: (row: ComparisonRow) => number | null) => summarize(rows.map(pick).filter((v): v is number => v !== null), 0);
  const errorKinds: Record<string, number> = {};
  for (const row of rows) for (const [kind, count] of Object.entries(row.error_kinds)) errorKinds[kind] = (errorKinds[kind] ?? 0) + count;
  return {
    runner,
    label: RUNNERS[runner],
    settings: rows[0]?.settings ?? '',
    runs: rows.length,
    window_ms: rows[0]?.window_ms ?? 0,
    writes_after_swap: numbers((r) => r.writes_after_swap),
    lost_into_old_inode: numbers((r) => r.lost_into_old_inode),
    missing_from_board: numbers((r) => r.missing_from_board),
    old_rows_in_board: numbers((r) => r.old_rows_in_board),
    board_unreadable_runs: rows.filter((r) => r.missing_from_board === null).length,
    errors_after_swap: numbers((r) => r.errors_after_swap),
    error_kinds: errorKinds,
    restarts_total: numbers((r) => r.restarts.total),
    restarts_unneeded: numbers((r) => r.restarts.unneeded),
    restart_detail: rows.map((r) => r.restarts.detail),
    all_on_new_file_ms: numbers((r) => r.all_on_new_file_ms),
    never_on_new_file_runs: rows.filter((r) => r.all_on_new_file_ms === null).length,
    fenced_on_new_file_ms: numbers((r) => r.fenced_on_new_file_ms),
    never_fenced_on_new_file_runs: rows.filter((r) => r.fenced_on_new_file_ms === null).length,
    fenced_on_new_file_ratio_to_pm2: null,
    integrity: [...new Set(rows.map((r) => r.integrity))],
  };
}

/** Fills in each entry's recovery ratio to the reference runner's median. */
export function withRatios(entries: ComparisonEntry[]): ComparisonEntry[] {
  const reference = entries.find((e) => e.runner === REFERENCE)?.fenced_on_new_file_ms ?? null;
  return entries.map((e) => ({
    ...e,
    fenced_on_new_file_ratio_to_pm2:
      e.runner === REFERENCE || reference === null || reference.p50 === 0 || e.fenced_on_new_file_ms === null
        ? null
        : Math.round((e.fenced_on_new_file_ms.p50 / reference.p50) * 100) / 100,
  }));
}
