import { processTree, type Holder } from '../board/index.js';
import type { EventLog } from '../events/index.js';
import { HOLD, type Fleet, type WaveResult } from '../fleet/index.js';
import { probeIntegrityInThread, readHeaderInChild, setJournalMode, type JournalMode, type ProbeResult } from '../maintenance/index.js';
import type { SqliteRuntimes } from '../sqlite/index.js';
import { BoardBusyError, BoardHeldError, JournalRefusedError, namedHolders, UnknownBoardError } from './errors.js';
import type { BoardJobs } from './jobs.js';
import { isBusy, type BoardRecord } from './record.js';
import type { BoardSteward } from './steward.js';

export interface JournalSwitchDeps {
  steward: BoardSteward;
  jobs: BoardJobs;
  fleet: Fleet;
  events: EventLog;
  runtimes: SqliteRuntimes;
}

export interface JournalSwitchReport {
  board: string;
  /** The mode the header named before: `delete`, `wal`, or null when bytes 18/19 said neither. */
  from: JournalMode | null;
  mode: JournalMode;
  /** False when the board already was in that mode: nothing was stopped. */
  changed: boolean;
  ok: boolean;
  /** Header bytes 18/19 after the switch, e.g. `1/1`. */
  header: string | null;
  integrity: ProbeResult | null;
  error: string | null;
  profiles: string[];
  wave: WaveResult | null;
}

interface SwitchResult {
  ok: boolean;
  header: string | null;
  integrity: ProbeResult | null;
  error: string | null;
}

const BUG = 'the WAL-reset bug (3.7.0-3.51.2; fixed in 3.51.3, 3.50.7, 3.44.6)';


/**
 * Switches a board between WAL and rollback-journal (DELETE) mode as a board job: only the
 * supervisor, once every holder is stopped, owns the file alone, which leaving WAL needs and which
 * keeps a live connection from losing its uncheckpointed commits.
 */
export class JournalSwitch {
  constructor(private readonly deps: JournalSwitchDeps) {}

  async run(slug: string, mode: JournalMode, force: boolean): Promise<JournalSwitchReport> {
    const record = this.deps.steward.boards.get(slug);
    if (!record) throw new UnknownBoardError(slug, [...this.deps.steward.boards.keys()]);
    await this.deps.jobs.settled(record);
    if (isBusy(record)) throw new BoardBusyError(slug, record.job ?? record.heldFor ?? 'busy');
    const before = await readHeaderInChild(record.path);
    if (!before.ok) throw new Error(before.error);
    if (before.header.kind !== 'sqlite') throw this.refuse(slug, mode, `board "${slug}" (${record.path}) has no SQLite header to switch`, JournalRefusedError);
    const from = before.header.journal;
    const unchanged = { board: slug, from, mode, integrity: null, error: null, profiles: [], wave: null };
    if (from === mode) return { ...unchanged, changed: false, ok: true, header: before.header.versions?.join('/') ?? null };

    const { fleet, foreign } = this.deps.steward.holdersOf(record);
    if (foreign.length > 0) {
      throw this.refuse(slug, mode, `board "${slug}" is held by ${namedHolders(foreign)} outside the fleet, which the supervisor does not stop; stop them first`, BoardHeldError);
    }
    if (mode === 'wal' && !force) {
      const risky = await this.vulnerable(fleet);
      if (risky.length > 0) {
        throw this.refuse(slug, mode, `refusing WAL on board "${slug}": ${risky.join(', ')} ${risky.length === 1 ? 'runs an SQLite' : 'run SQLites'} with ${BUG}; --force switches anyway`, JournalRefusedError);
      }
    }
    const outcome = await this.deps.jobs.run(record, {
      name: 'journal mode',
      hold: HOLD.journalMode,
      fence: true,
      reason: 'kanban.journal_mode',
      work: async (_, profiles) => {
        this.deps.events.emit('kanban.journal_mode.start', { board: slug, from, to: mode, force, profiles });
        return this.switchAlone(record, mode);
      },
    });
    const result = outcome.result;
    this.deps.events.emit('kanban.journal_mode.done', {
      board: slug,
      ok: result.ok,
      mode,
      header: result.header,
      integrity: result.integrity?.status ?? null,
      ...(result.error === null ? {} : { error: result.error }),
    });
    return { ...unchanged, changed: result.ok, ok: result.ok, header: result.header, integrity: result.integrity, error: result.error, profiles: outcome.profiles, wave: outcome.wave ? await outcome.wave : null };
  }

  private refuse<E extends Error>(slug: string, mode: JournalMode, reason: string, Kind: new (message: string) => E): E {
    this.deps.events.emit('kanban.journal_mode.refused', { board: slug, to: mode, reason });
    return new Kind(reason);
  }

  /**
   * The processes whose SQLite has the bug, as `name (pid N, SQLite x.y.z)`: the board's holders, and
   * every process of each running granted gateway (any of them may open the board once it is WAL).
   */
  private async vulnerable(holders: readonly Holder[]): Promise<string[]> {
    const owners = new Map<number, string>(holders.map((holder) => [holder.pid, holder.owner]));
    const granted = [...this.deps.fleet.gateways.values()].filter((gateway) => gateway.profile.grant && gateway.pid !== null);
    const trees = processTree(granted.map((gateway) => gateway.pid!));
    for (const gateway of granted) for (const pid of trees.get(gateway.pid!) ?? []) if (!owners.has(pid)) owners.set(pid, gateway.name);
    const found = await Promise.all(
      [...owners].map(async ([pid, owner]) => {
        const sqlite = await this.deps.runtimes.of(pid);
        if (sqlite?.vulnerable !== true) return null;
        const versions = sqlite.libraries.flatMap((library) => (library.version === null ? [] : [library.version]));
        return `${owner} (pid ${pid}, SQLite ${versions.join(', ')})`;
      }),
    );
    return found.filter((entry): entry is string => entry !== null);
  }

  /** With the board's gateways stopped: nobody else may hold it; then the pragma, the header read back, and a quick_check. */
  private async switchAlone(record: BoardRecord, mode: JournalMode): Promise<SwitchResult> {
    const { fleet, foreign } = this.deps.steward.holdersOf(record);
    const left = [...fleet, ...foreign];
    if (left.length > 0) {
      return { ok: false, header: null, integrity: null, error: `still held by ${namedHolders(left)} once its gateways were stopped (a kanban worker?); nothing was changed` };
    }
    let reported: string;
    try {
      reported = setJournalMode(record.path, mode);
    } catch (err) {
      return { ok: false, header: null, integrity: null, error: `journal_mode = ${mode} failed: ${(err as Error).message}` };
    }
    const after = await readHeaderInChild(record.path);
    const header = after.ok && after.header.kind === 'sqlite' ? (after.header.versions?.join('/') ?? null) : null;
    const integrity = await probeIntegrityInThread(record.path);
    record.health = integrity.status;
    if (after.ok && after.header.kind === 'sqlite' && after.header.journal === mode) {
      record.journal = { mode, generation: record.generation };
      return { ok: true, header, integrity, error: null };
    }
    const why = after.ok ? `header bytes 18/19 read ${header ?? 'nothing'}` : after.error;
    return { ok: false, header, integrity, error: `SQLite reported journal_mode ${reported}, but ${why}` };
  }
}
