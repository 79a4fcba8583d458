import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { realBoardPath } from '../board/index.js';
import type { EventLog } from '../events/index.js';
import { HOLD, type WaveResult } from '../fleet/index.js';
import {
  copyForRestore,
  installRebuilt,
  journalFor,
  notSqliteReason,
  probeIntegrityInThread,
  quarantineBoard,
  readHeaderInChild,
  sidecarPaths,
  type BoardHeader,
  type JournalMode,
  type ProbeResult,
} from '../maintenance/index.js';
import type { FleetPlan } from '../plan/index.js';
import { quarantineDir } from '../statedir/index.js';
import { runBoardInit, type InitResult } from './boardInit.js';
import { BoardBusyError, BoardHeldError, namedHolders, RestoreRefusedError, UnknownBoardError } from './errors.js';
import type { BoardJobs } from './jobs.js';
import { pathsOf, type BoardRecord } from './record.js';
import type { BoardSteward } from './steward.js';
import type { StoppedWorker } from './workerStop.js';

export interface BoardRestoreDeps {
  plan: () => FleetPlan;
  steward: BoardSteward;
  jobs: BoardJobs;
  events: EventLog;
}

export interface RestoreReport {
  board: string;
  source: string;
  ok: boolean;
  /** The journal mode the restored file was installed in: the replaced board's own. */
  journal: JournalMode;
  /** Where the replaced board was kept; null when there was no board file to keep. */
  kept: string | null;
  init: InitResult | null;
  integrity: ProbeResult | null;
  error: string | null;
  generation: number;
  /** The gateways stopped for the restore. */
  profiles: string[];
  /** The kanban workers on the replaced board that were ended. */
  workers: StoppedWorker[];
  wave: WaveResult | null;
}

interface Staged {
  file: string;
  journal: JournalMode;
}

interface Installed {
  ok: boolean;
  /** Whether the restored file was renamed in: before that nothing was changed. */
  installed: boolean;
  kept: string | null;
  init: InitResult | null;
  integrity: ProbeResult | null;
  error: string | null;
  workers: StoppedWorker[];
}

/**
 * Replaces a board with a backup the one safe way: the backup is copied and checked beside the board
 * while everything runs, then every holder is stopped before the file is renamed in, so no process
 * is ever on the old file, or mid-transaction with a journal at the board's name, when the new file
 * appears. The replaced board is kept in quarantine, the staged init migrates the restored file, and
 * the gateways come back in one wave.
 */
export class BoardRestore {
  constructor(private readonly deps: BoardRestoreDeps) {}

  private get config() {
    return this.deps.plan().config;
  }

  async run(slug: string, source: string): Promise<RestoreReport> {
    const record = this.deps.steward.boards.get(slug);
    if (!record) throw new UnknownBoardError(slug, [...this.deps.steward.boards.keys()]);
    await this.deps.jobs.settled(record);
    // A board held for an operator (corrupt, a failed rebuild, init or restore) is what a restore mends.
    if (record.job !== null) throw new BoardBusyError(slug, record.job);
    const backup = await this.checkSource(slug, record, source);
    const { foreign } = this.deps.steward.holdersOf(record);
    if (foreign.length > 0) {
      throw this.refuse(slug, source, `board "${slug}" is held by ${namedHolders(foreign)} outside the fleet, which the supervisor does not stop; stop them first`, BoardHeldError);
    }
    const staged = await this.stage(slug, record, source, backup);
    // Holds are per gateway, not per board: with another board still held they stay for `restart --all`.
    const othersHeld = [...this.deps.steward.boards.values()].some((other) => other !== record && other.heldFor !== null);
    try {
      const outcome = await this.deps.jobs.run(record, {
        name: 'restore',
        hold: HOLD.restore,
        fence: true,
        reason: 'kanban.restore',
        work: async (_, profiles) => {
          this.deps.events.emit('kanban.restore.start', { board: slug, ...pathsOf(record), source, journal_mode: staged.journal, profiles });
          return this.installAlone(record, staged).catch((err: Error): Installed => notInstalled(err.message, []));
        },
        // A restored file whose init or check failed is not one to run gateways on: held for an operator.
        // Nothing installed: the board is as it was, held or not.
        heldFor: (installed, previous) => (!installed.installed ? previous : installed.ok ? null : `restore: ${installed.error}`),
        takeOver: { lifts: othersHeld ? [] : [HOLD.corruption, HOLD.initFailed, HOLD.restore] },
      });
      const installed = outcome.result;
      if (installed.installed && installed.integrity) {
        // Known now, on the generation the job's own look at the file gave it.
        record.health = installed.integrity.status;
        record.journal = { mode: staged.journal, generation: record.generation };
      }
      this.deps.events.emit('kanban.restore.done', {
        board: slug,
        source,
        ok: installed.ok,
        kept: installed.kept,
        journal_mode: staged.journal,
        integrity: installed.integrity?.status ?? null,
        init_code: installed.init?.code ?? null,
        generation: record.generation,
        ...(installed.error === null ? {} : { error: installed.error }),
      });
      return {
        board: slug,
        source,
        ok: installed.ok,
        journal: staged.journal,
        kept: installed.kept,
        init: installed.init,
        integrity: installed.integrity,
        error: installed.error,
        generation: record.generation,
        profiles: outcome.profiles,
        workers: installed.workers,
        wave: outcome.wave ? await outcome.wave : null,
      };
    } finally {
      removeStaged(staged.file);
    }
  }

  /** The backup must be an SQLite file of its own, not the board itself; checked before anything is stopped. Returns its header. */
  private async checkSource(slug: string, record: BoardRecord, source: string): Promise<BoardHeader> {
    if (!path.isAbsolute(source)) throw this.refuse(slug, source, `the backup must be named by an absolute path, got "${source}"`);
    let stat;
    try {
      stat = statSync(source);
    } catch (err) {
      throw this.refuse(slug, source, `cannot read the backup ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!stat.isFile()) throw this.refuse(slug, source, `the backup ${source} is not a regular file`);
    const board = statSync(record.realPath, { throwIfNoEntry: false });
    if (board && board.dev === stat.dev && board.ino === stat.ino) throw this.refuse(slug, source, `${source} is board "${slug}" itself; name a backup`);
    const header = await readHeaderInChild(source);
    if (!header.ok) throw this.refuse(slug, source, header.error);
    if (header.header.kind !== 'sqlite') {
      const found = header.header.kind === 'empty' ? 'an empty file' : notSqliteReason(header.header.prefix);
      throw this.refuse(slug, source, `the backup ${source} is ${found}; nothing was changed`);
    }
    return header.header;
  }

  /**
   * The backup copied beside the board's real file (so the rename is atomic), checked in full, in the
   * journal mode of the board it replaces: a rollback-journal board stays one, as Hermes chose it for
   * an SQLite with the WAL-reset bug.
   */
  private async stage(slug: string, record: BoardRecord, source: string, backup: BoardHeader): Promise<Staged> {
    const current = await readHeaderInChild(record.path);
    if (current.ok && current.header.kind === 'not_sqlite') {
      throw this.refuse(slug, source, `board "${slug}" (${record.path}) is ${notSqliteReason(current.header.prefix)}; it is not replaced`);
    }
    const own = current.ok && current.header.kind === 'sqlite' ? current.header : backup;
    const journal = journalFor(own).mode;
    const real = realBoardPath(record.path);
    const file = path.join(path.dirname(real), `.${path.basename(real)}.restore-${process.pid}`);
    removeStaged(file);
    let tables: number;
    try {
      ({ tables } = await copyForRestore(source, file));
    } catch (err) {
      throw this.refuse(slug, source, `${(err as Error).message}; nothing was changed`);
    }
    const probe = await probeIntegrityInThread(file, { full: true });
    if (tables === 0 || probe.status !== 'ok') {
      removeStaged(file);
      const why = tables === 0 ? 'holds no tables' : `fails integrity_check: ${probe.detail}`;
      throw this.refuse(slug, source, `the backup ${source} ${why}; nothing was changed`);
    }
    return { file, journal };
  }

  /**
   * With every holder stopped: keep the old board with its sidecars, remove those from beside it,
   * rename the copy in, init, check. Kanban workers outlive their gateway, and their tasks would be
   * stale on the restored board: they are ended as a swap ends them, so Hermes's dispatcher reclaims
   * each task there.
   */
  private async installAlone(record: BoardRecord, staged: Staged): Promise<Installed> {
    const holders = this.deps.steward.holdersOf(record);
    const workerPids = new Set(holders.workers.map((worker) => worker.pid));
    const others = [...holders.fleet.filter((holder) => !workerPids.has(holder.pid)), ...holders.foreign];
    if (others.length > 0) return notInstalled(`still held by ${namedHolders(others)} once its gateways were stopped; nothing was changed`, []);
    const workers = await this.deps.steward.endWorkers(record, 'restore', holders.workers);
    const { fleet, foreign } = this.deps.steward.holdersOf(record);
    const left = [...fleet, ...foreign];
    if (left.length > 0) return notInstalled(`still held by ${namedHolders(left)} once its gateways and workers were stopped; nothing was changed`, workers);
    const { config } = this;
    const dir = quarantineDir(config.state_dir, record.slug);
    let kept: string | null = null;
    if (statSync(record.realPath, { throwIfNoEntry: false })) {
      // Kept whole, with any journal left by a process killed mid-transaction: it belongs to this file.
      kept = (await quarantineBoard(record.path, { dir, slug: record.slug, keep: config.kanban.quarantine_keep })).path;
      // Their bytes are in the kept set beside its copy; moved aside as a set of their own they could
      // push that copy out of a quarantine_keep of 1. Nobody holds them: checked just above.
      for (const sidecar of sidecarPaths(record.realPath)) rmSync(sidecar, { force: true });
    }
    installRebuilt(staged.file, record.path, { journal: staged.journal });
    const init = config.kanban.init_command ? await runBoardInit(config, record) : null;
    const integrity = await probeIntegrityInThread(record.path);
    this.deps.steward.pruneQuarantine(record);
    const error = init && !init.ok ? `kanban.init_command failed on the restored file (exit ${init.code ?? init.error})` : integrity.status !== 'ok' ? `the restored file fails quick_check: ${integrity.detail}` : null;
    return { ok: error === null, installed: true, kept, init, integrity, error, workers };
  }

  private refuse<E extends Error>(slug: string, source: string, reason: string, Kind: new (message: string) => E = RestoreRefusedError as unknown as new (message: string) => E): E {
    this.deps.events.emit('kanban.restore.refused', { board: slug, source, reason });
    return new Kind(reason);
  }
}

function notInstalled(error: string, workers: StoppedWorker[]): Installed {
  return { ok: false, installed: false, kept: null, init: null, integrity: null, error, workers };
}

function removeStaged(file: string): void {
  for (const each of [file, ...sidecarPaths(file)]) rmSync(each, { force: true });
}
