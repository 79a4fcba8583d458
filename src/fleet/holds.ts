/** Why a gateway is held stopped; each path lifts only its own hold. */
export const HOLD = {
  operator: 'operator',
  kanbanInit: 'kanban init',
  corruption: 'corruption',
  initFailed: 'init failed',
  journalMode: 'journal mode',
  restore: 'restore',
} as const;
