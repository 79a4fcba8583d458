import { ControlError, type CommandHandlers } from '../control/index.js';
import { ReloadRejected, type SupervisorVerbs } from './verbs.js';

const plural = (count: number, word: string) => (count === 1 ? word : `${word}s`);

/** Throws an unknown_profile error naming every name the supervisor does not run. */
function checkProfiles(verbs: SupervisorVerbs, names: string[]): void {
  const known = verbs.profileNames();
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  throw new ControlError('unknown_profile', `unknown ${plural(unknown.length, 'profile')}: ${unknown.join(', ')} (running profiles: ${known.join(', ') || 'none'})`);
}

function checkBoard(verbs: SupervisorVerbs, slug: string): void {
  const known = verbs.boardNames();
  if (!known.includes(slug)) throw new ControlError('unknown_board', `unknown board "${slug}"; known: ${known.join(', ') || 'none'}`);
}

/** The control socket's commands: names checked, then a thin call into the supervisor's verbs. */
export function commandHandlers(verbs: SupervisorVerbs): CommandHandlers {
  return {
    status: async () => verbs.status(),

    restart: async (args) => {
      checkProfiles(verbs, args.profiles);
      if (args.profiles.length === 0 && !args.all && !args.stale) throw new ControlError('bad_request', 'name profiles to restart, or pass --all or --stale');
      return verbs.restartGateways(args);
    },

    stop: async ({ profiles }) => {
      checkProfiles(verbs, profiles);
      return verbs.stopGateways(profiles);
    },

    start: async ({ profiles }) => {
      checkProfiles(verbs, profiles);
      return verbs.startGateways(profiles);
    },

    shutdown: async () => {
      // Reply first: closing the socket waits for open connections.
      setImmediate(() => void verbs.shutdown('shutdown command'));
      return { stopping: true, pid: process.pid };
    },

    reload: async () => {
      try {
        const diff = await verbs.reload();
        return { added: diff.added.map((profile) => profile.name), removed: diff.removed, changed: diff.changed.map((profile) => profile.name) };
      } catch (err) {
        if (err instanceof ReloadRejected) throw new ControlError('reload_rejected', `config rejected, fleet untouched: ${err.message}`);
        throw err;
      }
    },

    check: async ({ full }) => verbs.check(full),

    kanban_init: async ({ board }) => {
      checkBoard(verbs, board);
      return verbs.reinitBoard(board);
    },

    kanban_journal_mode: async (args) => {
      checkBoard(verbs, args.board);
      return verbs.switchJournalMode(args);
    },

    kanban_restore: async (args) => {
      checkBoard(verbs, args.board);
      return verbs.restoreBoard(args);
    },
  };
}
