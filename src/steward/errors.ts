import type { Holder } from '../board/index.js';

/** Refusals of the board verbs, each naming what was asked for and why it cannot be done now. */

export class UnknownBoardError extends Error {
  constructor(
    readonly board: string,
    known: string[],
  ) {
    super(`unknown board "${board}"; known: ${known.join(', ') || 'none'}`);
  }
}

export class BoardBusyError extends Error {
  constructor(
    readonly board: string,
    readonly busyWith: string,
  ) {
    super(`board "${board}" is busy (${busyWith}); try again when that is done`);
  }
}

export class NoInitCommandError extends Error {
  constructor(configFile: string) {
    super(`kanban.init_command is not set in ${configFile}; set it (e.g. [hermes, kanban, init]) to re-initialise a board`);
  }
}

/** A switch the supervisor will not make as asked: the reason names what would go wrong and how to go on. */
export class JournalRefusedError extends Error {}

/** A board held by a process outside the fleet: the supervisor cannot stop it, so it cannot own the file alone. */
export class BoardHeldError extends Error {}

/** A restore the supervisor will not make: the backup is missing, not a database, damaged, or the board itself. */
export class RestoreRefusedError extends Error {}

/** Holders as a refusal names them: `owner (pid N)`, each process once. */
export function namedHolders(holders: readonly Holder[]): string {
  return [...new Map(holders.map((holder) => [holder.pid, `${holder.owner} (pid ${holder.pid})`])).values()].join(', ');
}
