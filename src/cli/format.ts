import { plainTable } from './table.js';
import { outsideSection } from './outside.js';
import type { CheckReport, HolderRow, KanbanJournalModeResult, KanbanRestoreResult, RestartResult, StatusReport, WalRiskRow } from '../control/index.js';
import { outsideConflict } from '../outside/index.js';
import { formatDuration } from '../util/index.js';

const table = plainTable;

function exitText(exit: StatusReport['profiles'][number]['last_exit']): string {
  if (exit === null) return '-';
  return `${exit.error ?? exit.signal ?? `code ${exit.code}`}${exit.graceful ? ' (graceful)' : ''}`;
}

/** `ok 12s`, or `STALE (why)`: the word an operator looks for; `-` when not checked. */
function heartbeatText(heartbeat: StatusReport['profiles'][number]['heartbeat']): string {
  if (heartbeat === null) return '-';
  if (heartbeat.stale) return `STALE (${heartbeat.reason})`;
  return heartbeat.age_s === null ? 'no state file' : `ok ${formatDuration(heartbeat.age_s * 1000)}`;
}

/** One line per process on a WAL board with an SQLite that has the WAL-reset bug, and what to do about it. */
function walRiskLines(risks: readonly WalRiskRow[]): string[] {
  return risks.map(
    (risk) =>
      `WAL-RESET RISK: board ${risk.board} is in WAL mode and ${risk.holder} (pid ${risk.pid}) runs SQLite ${risk.sqlite.join(', ')}, which has the WAL-reset bug (fixed in 3.51.3, 3.50.7, 3.44.6): \`kanban journal-mode ${risk.board} delete\`, or upgrade its SQLite`,
  );
}

/** `status` for a terminal: the supervisor line, then boards, profiles, services (when any) and kanban workers. */
export function statusText(status: StatusReport): string {
  const boards = table(['board', 'generation', 'inode', 'holders', 'health', 'journal', 'path']);
  for (const board of status.boards) boards.push([board.slug, board.generation, board.ino ?? '-', board.holders, board.health, board.journal_mode, board.path]);
  const profiles = table(['profile', 'state', 'pid', 'grant', 'gen', 'restarts', 'uptime', 'heartbeat', 'last exit', 'last restart']);
  // A service writes no heartbeat: its own table has no such column.
  const services = table(['service', 'state', 'pid', 'kanban', 'gen', 'restarts', 'uptime', 'last exit', 'last restart']);
  for (const profile of status.profiles) {
    const common = {
      pid: profile.pid ?? '-',
      gen: profile.generation ?? '-',
      uptime: profile.uptime_s === null ? '-' : formatDuration(profile.uptime_s * 1000),
      exit: exitText(profile.last_exit),
      reason: profile.last_restart_reason ?? '-',
    };
    if (profile.kind === 'service') {
      services.push([profile.name, profile.state, common.pid, profile.grant ? 'yes' : 'no', common.gen, profile.restarts, common.uptime, common.exit, common.reason]);
      continue;
    }
    profiles.push([
      profile.name,
      profile.folded === null ? profile.state : `${profile.state} FOLDED (serves ${profile.folded.join(', ')})`,
      common.pid,
      profile.grant ? 'yes' : `no (${profile.grant_reason})`,
      common.gen,
      profile.restarts,
      common.uptime,
      heartbeatText(profile.heartbeat),
      common.exit,
      common.reason,
    ]);
  }
  const workers = table(['board', 'task', 'run', 'profile', 'pid', 'age']);
  for (const worker of status.workers) {
    workers.push([worker.board ?? '-', worker.task, worker.run_id ?? '-', worker.profile ?? '-', worker.pid, formatDuration(worker.age_s * 1000)]);
  }
  const { supervisor } = status;
  const dropped = status.profiles.filter((profile) => profile.output_dropped > 0).map((profile) => `${profile.name} ${profile.output_dropped}`);
  return [
    `supervisor pid ${supervisor.pid}, up since ${supervisor.started_at}`,
    `config ${supervisor.config}, state ${supervisor.state_dir}`,
    boards.toString(),
    ...walRiskLines(status.boards.flatMap((board) => board.wal_reset_risk)),
    profiles.toString(),
    ...(status.profiles.some((profile) => profile.kind === 'service') ? [services.toString()] : []),
    status.workers.length === 0 ? 'workers: none' : workers.toString(),
    ...(dropped.length > 0 ? [`output lines dropped from the supervisor's stdout (its reader stalled; the logs have them): ${dropped.join(', ')}`] : []),
  ].join('\n');
}

/** `check` for a terminal: integrity per board, the fleet's holders, holders and gateways outside the fleet; "none" rather than an empty table. */
export function checkText(report: CheckReport): string {
  const lines: string[] = [];
  if (report.integrity.length === 0) lines.push('integrity: no board file to check');
  else {
    const integrity = table(['board', 'integrity', 'detail', 'ms']);
    for (const row of report.integrity) integrity.push([row.board, row.status, row.detail.slice(0, 60), row.duration_ms]);
    lines.push(integrity.toString());
  }
  // The report came through JSON: rows are matched by what they say, not by object identity.
  const key = (holder: HolderRow) => `${holder.pid}:${holder.board}:${holder.generation}:${holder.role}`;
  const stale = new Set(report.stale.map(key));
  const violations = new Set(report.violations.map(key));
  const note = (holder: HolderRow) => [stale.has(key(holder)) ? 'STALE' : '', violations.has(key(holder)) ? 'POLICY VIOLATION' : ''].filter(Boolean).join(', ');
  if (report.holders.length === 0) lines.push('supervised holders: none');
  else {
    const holders = table(['holder', 'pid', 'board', 'generation', 'file', 'note']);
    for (const holder of report.holders) holders.push([holder.owner, holder.pid, holder.board, holder.generation, holder.role, note(holder)]);
    lines.push(holders.toString());
  }
  if (report.foreign.length === 0) lines.push('holders outside the fleet: none');
  else {
    const foreign = table(['pid', 'command', 'board', 'generation', 'file']);
    for (const holder of report.foreign) foreign.push([holder.pid, holder.command, holder.board, holder.generation, holder.role]);
    lines.push('holders outside the fleet (not supervised):', foreign.toString());
  }
  lines.push(...(report.wal_reset_risk.length === 0 ? ['WAL-reset risk: none'] : walRiskLines(report.wal_reset_risk)));
  lines.push(...outsideSection(report.outside));
  lines.push(`holder audit: ${report.audit_ms} ms`);
  return lines.join('\n');
}

/** A finished wave: who is back, who a hook vetoed, who was left alone. */
export function restartText(result: RestartResult): string {
  const wave = result.wave;
  if (wave === null) return 'restarted: none (nothing to restart)';
  const lines = [`restarted${result.graceful ? ' gracefully' : ''}: ${wave.restarted.join(', ') || 'none'} (${wave.duration_ms} ms)`];
  if (wave.vetoed.length) lines.push(`vetoed by pre_restart: ${wave.vetoed.join(', ')}`);
  if (wave.skipped.length) lines.push(`skipped (stopped, or held by board maintenance; start them with \`start PROFILE\`): ${wave.skipped.join(', ')}`);
  return lines.join('\n');
}

/** A journal-mode switch: what the header says now, the integrity, and who is back. */
export function journalModeText(result: KanbanJournalModeResult): string {
  if (!result.changed && result.ok) return `board ${result.board}: already in ${result.mode} mode (header bytes 18/19 ${result.header ?? '?'}); nothing was stopped`;
  const lines = [
    result.ok
      ? `board ${result.board}: journal mode ${result.from ?? 'unknown'} -> ${result.mode} (header bytes 18/19 ${result.header}), integrity ${result.integrity?.status ?? 'not checked'}`
      : `board ${result.board}: journal mode NOT switched to ${result.mode}: ${result.error}`,
    gatewaysBack(result.wave),
  ];
  return lines.join('\n');
}

/** The line every board verb ends with: who came back in its wave, and who did not come up ready. */
export function gatewaysBack(wave: KanbanJournalModeResult['wave']): string {
  return `gateways back: ${wave.restarted.join(', ') || 'none'}${wave.failed.length ? `; not ready: ${wave.failed.join(', ')}` : ''}`;
}

export function restoreText(result: KanbanRestoreResult): string {
  const head = result.ok
    ? `board ${result.board}: restored from ${result.source} (${result.journal_mode} mode), integrity ${result.integrity?.status ?? 'not checked'}, generation ${result.generation}`
    : `board ${result.board}: restore from ${result.source} FAILED: ${result.error}`;
  const lines = [head];
  if (result.kept) lines.push(`the replaced board is kept as ${result.kept}`);
  if (result.workers.length > 0) {
    lines.push(`kanban workers ended: ${result.workers.map((worker) => `task ${worker.task} (pid ${worker.pid}, ${worker.signal ?? 'already gone'})`).join(', ')}`);
  }
  if (!result.ok && result.init?.output) lines.push(result.init.output.trimEnd());
  lines.push(gatewaysBack(result.wave));
  return lines.join('\n');
}

/** Exit 1: a stale holder, a policy violation, a corrupt board, or a gateway outside the supervisor fighting a supervised one. */
export function checkFailed(report: CheckReport): boolean {
  return report.stale.length > 0 || report.violations.length > 0 || report.integrity.some((row) => row.status === 'corrupt') || outsideConflict(report.outside);
}
