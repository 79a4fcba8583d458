import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import type { Violation } from './checks.js';
import type { Spread } from './stats.js';

export const CHECKS = ['integrity', 'acknowledged-writes', 'one-gateway-per-profile', 'leftover-processes', 'io-errors', 'fleet-running-at-end'] as const;

export interface ChaosReport {
  ok: boolean;
  seed: number;
  started_at: string;
  duration_s: number;
  checks: Record<(typeof CHECKS)[number] | 'scenario', 'pass' | 'fail'>;
  violations: Violation[];
  swaps: {
    total: number;
    by_kind: Record<string, number>;
    maintenance_kanban_inits: number;
    bursts: number;
    mid_wave_bursts: number;
    kanban_init_failures: unknown[];
    restore_failures: unknown[];
    init_retries: number;
  };
  supervisor_events: {
    board_swap: number;
    board_gone: number;
    detected_by: Record<string, number>;
    fences: number;
    later_fences: number;
    fenced_on_unlink: number;
    swap_to_fence_ms: Spread;
    action_to_fence_ms: Record<string, Spread>;
    audit_ms: Spread;
    file_landed_to_swap_event_ms: Spread;
    waves: { started: number; done: number; replans: number; duration_ms: Spread; failed: string[] };
    kanban_inits: { started: number; done: number; not_ok: number };
    spawns: number;
    leftovers: number;
    unparsable_lines: number;
  };
  gateways_killed: { count: number; kills: unknown[] };
  supervisor_kill: unknown;
  writes: {
    total: number;
    final_generation: { checked: number; by_older_processes: number; missing: number; mismatched: number };
    late_into_old_inodes: { count: number; late_ms: Spread; by_profile: Record<string, number> };
    unknown_file: number;
  };
  errors: {
    busy_locked: number;
    io_current: number;
    io_stale: number;
    io_on_open_current: number;
    io_unattributed: number;
    io_unattributed_examples: unknown[];
    /** By the kind of swap: errors inside the window SQLite's rules leave open until the supervisor reacts. */
    io_before_reaction: Record<string, number>;
    io_before_reaction_examples: unknown[];
    other: Record<string, number>;
  };
  generations: {
    recorded: number;
    unexplained: unknown[];
    final: unknown;
    final_rows: number;
    final_tables: string[];
    final_rows_error: string | null;
    integrity: string;
  };
  proc: { samples: number; overlaps: number; gateway_processes_seen: number };
  final_stop: unknown;
  notes: string[];
  [extra: string]: unknown;
}

export function writeReport(file: string, report: ChaosReport): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

const beforeReaction = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ') || '0';

const ms = (spread: Spread) => (spread.n === 0 ? 'n/a' : `p50 ${spread.p50} / p99 ${spread.p99} / max ${spread.max} (n=${spread.n})`);

export function summaryTable(report: ChaosReport): string {
  const table = new Table({ head: ['chaos run', 'result'], wordWrap: true, colWidths: [34, 72] });
  const kinds = Object.entries(report.swaps.by_kind).map(([kind, n]) => `${kind} ${n}`).join(', ');
  const events = report.supervisor_events;
  const kill = report.supervisor_kill as { pid?: number; leftover_events?: unknown[]; restart_ready_ms?: number | null } | null;
  table.push(
    ['duration / seed', `${report.duration_s} s / ${report.seed}`],
    ['swaps', `${report.swaps.total} (${kinds}); kanban init on a live board ${report.swaps.maintenance_kanban_inits}; inits retried after SQLITE_BUSY ${report.swaps.init_retries}`],
    ['bursts (next one into the wave)', `${report.swaps.bursts} (${report.swaps.mid_wave_bursts})`],
    ['board.swap / board.gone events', `${events.board_swap} / ${events.board_gone} (${Object.entries(events.detected_by).map(([by, n]) => `${by} ${n}`).join(', ')})`],
    ['waves started / done / replans', `${events.waves.started} / ${events.waves.done} / ${events.waves.replans}; duration ms ${ms(events.waves.duration_ms)}`],
    ['fences', `${events.fences} (on the unlink ${events.fenced_on_unlink}, later by a poll ${events.later_fences})`],
    ['board.swap -> fence ms', ms(events.swap_to_fence_ms)],
    ...Object.entries(events.action_to_fence_ms).map(([kind, spread]) => [`${kind} action -> fence ms`, ms(spread)]),
    ['holder audit ms', ms(events.audit_ms)],
    ['file landed -> board.swap ms', ms(events.file_landed_to_swap_event_ms)],
    ['gateways SIGKILLed', String(report.gateways_killed.count)],
    [
      'supervisor SIGKILLed mid-wave',
      kill ? `pid ${kill.pid}; ${kill.leftover_events?.length ?? 0} leftovers reaped; fleet ready again in ${kill.restart_ready_ms ?? '?'} ms` : 'no',
    ],
    ['acknowledged writes', `${report.writes.total}; into the final file ${report.writes.final_generation.checked} (missing ${report.writes.final_generation.missing}, mismatched ${report.writes.final_generation.mismatched})`],
    ['late writes into old inodes', `${report.writes.late_into_old_inodes.count}; ms after the swap ${ms(report.writes.late_into_old_inodes.late_ms)}`],
    [
      'errors: busy / io current / io stale',
      `${report.errors.busy_locked} / ${report.errors.io_current} (+${report.errors.io_on_open_current} on open) / ${report.errors.io_stale}; io on open near a swap ${report.errors.io_unattributed}`,
    ],
    ['io on the new file before the supervisor reacted (unannounced swaps)', beforeReaction(report.errors.io_before_reaction)],
    ['/proc samples (two at once)', `${report.proc.samples} (${report.proc.overlaps})`],
    [
      'final board',
      `integrity ${report.generations.integrity}; ${report.generations.final_rows} rows${report.generations.final_rows_error ? ` (${report.generations.final_rows_error})` : ''}`,
    ],
  );
  for (const check of [...CHECKS, 'scenario' as const]) table.push([`check: ${check}`, report.checks[check]]);
  table.push(['violations', String(report.violations.length)]);
  return table.toString();
}
