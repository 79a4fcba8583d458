import type { CheckReport, KanbanInitResult, KanbanJournalModeResult, KanbanRestoreResult, ResultOf, StatusReport, ValidArgsOf } from '../control/index.js';
import type { PlanDiff } from '../plan/index.js';

/** A reload that cannot be applied: the running fleet is left as it was. */
export class ReloadRejected extends Error {}

/**
 * What the control commands may ask of a running supervisor. Names handed to a verb are known ones:
 * the commands check them against `profileNames()` and `boardNames()` first.
 */
export interface SupervisorVerbs {
  profileNames(): string[];
  boardNames(): string[];
  status(): StatusReport;
  /** One wave over the profiles named, every profile (`all`) and every stale holder (`stale`). */
  restartGateways(request: ValidArgsOf<'restart'>): Promise<ResultOf<'restart'>>;
  /** Stops the gateways and keeps them stopped until startGateways. */
  stopGateways(profiles: string[]): Promise<ResultOf<'stop'>>;
  startGateways(profiles: string[]): Promise<ResultOf<'start'>>;
  /** The safe re-init of one board. */
  reinitBoard(slug: string): Promise<KanbanInitResult>;
  /** The switch of one board's journal mode, its gateways stopped for it and brought back in one wave. */
  switchJournalMode(request: ValidArgsOf<'kanban_journal_mode'>): Promise<KanbanJournalModeResult>;
  /** Replaces one board with a backup, every holder stopped first, the old file kept, the gateways back in one wave. */
  restoreBoard(request: ValidArgsOf<'kanban_restore'>): Promise<KanbanRestoreResult>;
  /** A thorough holder audit, an integrity probe (`integrity_check` when full) and the gateways outside the supervisor. */
  check(full: boolean): Promise<CheckReport>;
  /** Re-reads every config; rejects with ReloadRejected when the new config cannot be applied. */
  reload(): Promise<PlanDiff>;
  /** Stops every gateway and the supervisor, logging why. */
  shutdown(reason: string): Promise<void>;
}
