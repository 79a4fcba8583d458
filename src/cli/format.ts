import Table from 'cli-table3';
import type { StatusReport } from '../daemon/index.js';
import { formatDuration } from '../util/index.js';

const table = (head: string[]) => new Table({ head, style: { head: [], border: [] } });

function exitText(exit: unknown): string {
  if (!exit || typeof exit !== 'object') return '-';
  const { code, signal, error } = exit as { code: number | null; signal: string | null; error?: string };
  return error ?? (signal ? signal : `code ${code}`);
}

/** `status` for a terminal: the supervisor line, then boards, then profiles. */
export function statusText(status: StatusReport): string {
  const boards = table(['board', 'generation', 'inode', 'holders', 'health', 'path']);
  for (const board of status.boards) boards.push([board.slug, board.generation, board.ino ?? '-', board.holders, board.health, board.path]);
  const profiles = table(['profile', 'state', 'pid', 'grant', 'gen', 'restarts', 'uptime', 'last exit', 'last restart']);
  for (const profile of status.profiles) {
    profiles.push([
      profile.name,
      profile.state,
      profile.pid ?? '-',
      profile.grant ? 'yes' : `no (${profile.grant_reason})`,
      profile.generation ?? '-',
      profile.restarts,
      profile.uptime_s === null ? '-' : formatDuration(profile.uptime_s * 1000),
      exitText(profile.last_exit),
      profile.last_restart_reason ?? '-',
    ]);
  }
  const { supervisor } = status;
  return [
    `supervisor pid ${supervisor.pid}, up since ${supervisor.started_at}`,
    `config ${supervisor.config}, state ${supervisor.state_dir}`,
    boards.toString(),
    profiles.toString(),
  ].join('\n');
}

interface CheckReport {
  audit_ms: number;
  holders: Array<{ owner: string; pid: number; board: string; generation: number; role: string }>;
  stale: CheckReport['holders'];
  violations: CheckReport['holders'];
  foreign: CheckReport['holders'];
  integrity: Array<{ board: string; status: string; detail: string; duration_ms: number }>;
}

export function checkText(report: CheckReport): string {
  const integrity = table(['board', 'integrity', 'detail', 'ms']);
  for (const row of report.integrity) integrity.push([row.board, row.status, row.detail.slice(0, 60), row.duration_ms]);
  const holders = table(['holder', 'pid', 'board', 'generation', 'file', 'note']);
  // The report came through JSON: rows are matched by what they say, not by object identity.
  const key = (holder: CheckReport['holders'][number]) => `${holder.pid}:${holder.board}:${holder.generation}:${holder.role}`;
  const stale = new Set(report.stale.map(key));
  const violations = new Set(report.violations.map(key));
  const note = (holder: CheckReport['holders'][number]) =>
    [stale.has(key(holder)) ? 'STALE' : '', violations.has(key(holder)) ? 'POLICY VIOLATION' : ''].filter(Boolean).join(', ');
  for (const holder of report.holders) holders.push([holder.owner, holder.pid, holder.board, holder.generation, holder.role, note(holder)]);
  for (const holder of report.foreign) holders.push([holder.owner, holder.pid, holder.board, holder.generation, holder.role, 'not supervised']);
  return [integrity.toString(), holders.toString(), `holder audit: ${report.audit_ms} ms`].join('\n');
}

export function checkFailed(report: CheckReport): boolean {
  return report.stale.length > 0 || report.violations.length > 0 || report.integrity.some((row) => row.status === 'corrupt');
}
