import { readProcStat, type Holder } from '../board/index.js';
import type { EventLog } from '../events/index.js';
import type { ProcessSqlite, SqliteRuntimes } from '../sqlite/index.js';
import { journalModeOf, type BoardRecord } from './record.js';
import type { AuditSummary, BoardSteward } from './steward.js';

/** Processes remembered as reported; past this the set starts again (a long-running host's pids wrap). */
const MAX_REPORTED = 10_000;

/** A holder of a WAL board whose SQLite has the WAL-reset bug. */
export interface WalRisk {
  board: string;
  /** The profile, or `pid:<comm>` for a process outside the fleet. */
  holder: string;
  pid: number;
  /** Every SQLite version the process has mapped, e.g. `3.40.1`. */
  sqlite: string[];
  libraries: string[];
}

/**
 * Whether a holder uses the board in WAL mode: the board's last probe found WAL, or the holder has
 * the board's -wal or -shm open (every WAL connection has both; a rollback-journal one neither).
 */
export function onWal(record: BoardRecord, holders: readonly Holder[], pid: number): boolean {
  if (journalModeOf(record) === 'wal') return true;
  return holders.some((holder) => holder.pid === pid && holder.board === record.slug && (holder.role === 'wal' || holder.role === 'shm'));
}

/** The risk row for a holder, when its SQLite is known to be vulnerable and it is on a WAL board. */
export function riskOf(record: BoardRecord, holders: readonly Holder[], holder: Holder, sqlite: ProcessSqlite | null): WalRisk | null {
  if (sqlite?.vulnerable !== true || !onWal(record, holders, holder.pid)) return null;
  const known = sqlite.libraries.filter((library) => library.version !== null);
  return { board: record.slug, holder: holder.owner, pid: holder.pid, sqlite: known.map((library) => library.version!), libraries: known.map((library) => library.library) };
}

/** One row per process and board: a process holds a board through several files. */
function distinct(holders: readonly Holder[]): Holder[] {
  const seen = new Set<string>();
  return holders.filter((holder) => {
    const id = `${holder.pid}:${holder.board}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export interface WalRiskDeps {
  steward: BoardSteward;
  events: EventLog;
  runtimes: SqliteRuntimes;
}

/**
 * Watches the holder audits for a WAL board held by a process whose SQLite has the WAL-reset bug,
 * and reports each such process once (`board.wal_reset_risk`), not at every audit.
 */
export class WalRiskWatch {
  private readonly reported = new Set<string>();
  private unsubscribe: () => void = () => undefined;

  constructor(private readonly deps: WalRiskDeps) {}

  start(): void {
    this.unsubscribe = this.deps.steward.onAudit((audit) => this.look(audit));
  }

  stop(): void {
    this.unsubscribe();
  }

  /** What is known now of the last audit's holders, without reading anything: for `status`. */
  known(record: BoardRecord): WalRisk[] {
    const holders = this.deps.steward.lastAudit?.holders ?? [];
    return distinct(holders.filter((holder) => holder.board === record.slug)).flatMap((holder) => {
      const risk = riskOf(record, holders, holder, this.deps.runtimes.known(holder.pid));
      return risk === null ? [] : [risk];
    });
  }

  /** Every holder given, its SQLite read now where not yet known: for `check`. */
  async fresh(holders: readonly Holder[]): Promise<WalRisk[]> {
    const risks = await Promise.all(distinct(holders).map((holder) => this.riskNow(holders, holder)));
    return risks.filter((risk): risk is WalRisk => risk !== null);
  }

  private look(audit: AuditSummary): void {
    for (const holder of distinct(audit.holders)) {
      void this.riskNow(audit.holders, holder).then(
        (risk) => {
          if (risk === null) return;
          const id = `${holder.pid}:${readProcStat(holder.pid)?.startTime}:${holder.board}`;
          if (this.reported.has(id)) return;
          if (this.reported.size >= MAX_REPORTED) this.reported.clear();
          this.reported.add(id);
          this.deps.events.emit('board.wal_reset_risk', {
            board: risk.board,
            holder: risk.holder,
            pid: risk.pid,
            sqlite: risk.sqlite,
            libraries: risk.libraries,
            note: 'this SQLite has the WAL-reset bug (3.7.0-3.51.2; fixed in 3.51.3, 3.50.7, 3.44.6); switch the board with `kanban journal-mode BOARD delete`, or upgrade its SQLite',
          });
        },
        (err: Error) => this.deps.events.emit('supervisor.error', { during: 'WAL-reset look', error: err.message }),
      );
    }
  }

  private async riskNow(holders: readonly Holder[], holder: Holder): Promise<WalRisk | null> {
    const record = this.deps.steward.boards.get(holder.board);
    if (record === undefined) return null;
    // A holder of a rollback-journal board is not at risk: its maps are never read.
    if (!onWal(record, holders, holder.pid)) return null;
    return riskOf(record, holders, holder, (await this.deps.runtimes.of(holder.pid)) ?? null);
  }
}
