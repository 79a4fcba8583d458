import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  advanceGeneration,
  auditHolders,
  type AuditOptions,
  BoardWatcher,
  compareIdentity,
  discoverBoards,
  fileKey,
  findHostHolders,
  holderTargets,
  oldSidecars,
  readBoardIdentities,
  readIdentity,
  readProcStat,
  rememberFiles,
  resolveBoardPath,
  scanWorkers,
  SIDECAR_ROLES,
  type SidecarRole,
  type BoardIdentities,
  type Holder,
  type HostHolder,
  type HolderTarget,
  type Tie,
  tieOf,
  type Identity,
  workerBoard,
} from '../board/index.js';
import type { BoardSpec } from '../config/index.js';
import type { EventLog } from '../events/index.js';
import { HOLD, type Fleet, type WaveRequest, type WaveRunner } from '../fleet/index.js';
import { boardsDir } from '../hermes/index.js';
import type { FleetPlan } from '../plan/index.js';
import { quarantineDir } from '../statedir/index.js';
import { moveAsideSidecars, pruneQuarantine } from '../maintenance/index.js';
import { killProcess, readEnviron } from '../proc/index.js';
import { freeze } from './fence.js';
import { planFence, staleHolders, type BoardWorker, type FencePlan, type FleetMember, type StaleWorker } from './fencePlan.js';
import { stopFrozenWorker, stopWorker, type StoppedWorker } from './workerStop.js';
import { isLinked, newBoardRecord, pathsOf, type BoardRecord, type RestatCause } from './record.js';

export interface StewardDeps {
  plan: FleetPlan;
  fleet: Fleet;
  events: EventLog;
  waves: WaveRunner;
  /**
   * The staged init of the file a swap put at a board's path, run before the wave that brings the
   * fenced gateways back; false when it failed and they must not come back onto that file.
   */
  initSwapped(record: BoardRecord): Promise<boolean>;
}

export interface AuditSummary {
  at: string;
  durationMs: number;
  holders: Holder[];
}

/** A board missing this long after its file vanished is gone; back sooner, it was swapped. */
const GONE_GRACE_MS = 1000;

/** After anything happens to a gateway or a board, the poll audits holders this many times in a row. */
const AUDIT_SETTLE_POLLS = 10;

/** Events after which holders may change: a process spawned or became ready, a board changed, a reload. */
const STIRS_HOLDERS = /^(gateway\.(spawn|ready)|board\.(swap|new|gone|rebuilt|install)|wave\.done|supervisor\.reload)$/;

/**
 * Inits in a row on a board whose file keeps changing while it is initialised; then the wave goes. An
 * init command that itself replaces the file would otherwise run forever, every run a new swap.
 */
const INIT_ROUNDS = 3;

const idOf = (identity: Identity | null) => (identity ? { dev: identity.dev, ino: identity.ino } : null);

/**
 * Looks after the boards: notices when a board file is replaced, fences the gateways still on the
 * old file at once, moves the old generation's sidecars out of the way, and has the fenced gateways
 * restarted onto the new file in one rolling wave.
 */
export class BoardSteward {
  readonly boards = new Map<string, BoardRecord>();
  lastAudit: AuditSummary | null = null;
  private watcher: BoardWatcher | null = null;
  /** Policy violations (pid:board) seen by the last audit: each is reported once while it lasts. */
  private reported = new Set<string>();
  private stopped = false;
  /** The poll audits holders until then (something just happened), else every `health.audit_interval`. */
  private auditsUntil = 0;
  private lastAuditMs = 0;
  private unsubscribe: () => void = () => undefined;
  private readonly pollListeners = new Set<() => void>();
  private readonly auditListeners = new Set<(audit: AuditSummary) => void>();
  /** Kanban workers being ended (pid:start time). */
  private readonly workerStops = new Set<string>();
  /** Per board, the wave requests waiting for the staged init of its new file. */
  private readonly awaitingInit = new Map<string, WaveRequest[]>();

  constructor(private readonly deps: StewardDeps) {}

  private get config() {
    return this.deps.plan.config;
  }

  /**
   * Takes a reloaded plan: boards it adds are adopted and their folders watched; boards it drops are
   * no longer looked after. Resolves once file events for the added folders are flowing.
   */
  async setPlan(plan: FleetPlan): Promise<void> {
    this.deps.plan = plan;
    const slugs = new Set(plan.boards.map((board) => board.slug));
    for (const spec of plan.boards) if (!this.boards.has(spec.slug)) this.adopt(spec, true);
    if (plan.config.kanban.boards !== 'auto') for (const slug of this.boards.keys()) if (!slugs.has(slug)) this.boards.delete(slug);
    try {
      await this.watcher?.watchFolders([...watchedFolders(plan.config), ...this.targetFolders()]);
    } catch (err) {
      // The stat poll still covers these boards.
      this.deps.events.emit('board.watch_error', { error: (err as Error).message });
    }
  }

  /** Runs `listener` after every poll: periodic board work rides on the poll's wake-up instead of a timer of its own. */
  onPoll(listener: () => void): () => void {
    this.pollListeners.add(listener);
    return () => this.pollListeners.delete(listener);
  }

  /** Runs `listener` after every holder audit, with what it found. */
  onAudit(listener: (audit: AuditSummary) => void): () => void {
    this.auditListeners.add(listener);
    return () => this.auditListeners.delete(listener);
  }

  /**
   * Every process holding the board's current files, read now through fds and maps: the fleet's
   * (the gateways' trees by profile, and processes carrying the supervisor's marks: escapees, kanban
   * workers) and the host's others (named `pid:<comm>`), which the supervisor never signals.
   */
  holdersOf(record: BoardRecord): { fleet: Holder[]; foreign: Holder[]; workers: BoardWorker[] } {
    const targets = holderTargets([record]);
    const audit = auditHolders(targets, this.owners(), { maps: true });
    const host = findHostHolders(targets, new Set([process.pid, ...audit.scannedPids]), this.config.state_dir, { maps: true });
    const workers = new Map<number, BoardWorker>();
    for (const { pid, startTime, tie } of host) {
      if (tie?.kind === 'worker') workers.set(pid, { pid, startTime, task: tie.task, runId: tie.runId });
    }
    return { fleet: [...audit.holders, ...host.filter((holder) => holder.tie !== null)], foreign: host.filter((holder) => holder.tie === null), workers: [...workers.values()] };
  }

  /**
   * Ends the fleet's kanban workers on a board a job is about to replace (a restore, a rebuild), its
   * gateways already stopped: those `holding` it, and those whose HERMES_KANBAN_DB names it, as one
   * opening the board per tool call holds nothing between calls and its next call would land in the
   * middle of the job. The board is still the old file, so each gets SIGTERM and may close its
   * connection; their tasks would be stale on the new file, so Hermes's dispatcher reclaims them.
   */
  async endWorkers(record: BoardRecord, job: string, holding: readonly BoardWorker[] = this.holdersOf(record).workers): Promise<StoppedWorker[]> {
    const boards = [...this.boards.values()].map(({ slug, path: file }) => ({ slug, path: file }));
    const known = new Set(holding.map((worker) => worker.pid));
    const named = scanWorkers(this.config.state_dir).filter((worker) => !known.has(worker.pid) && workerBoard(worker.db, boards) === record.slug);
    return Promise.all(
      [...holding, ...named].map(async ({ pid, startTime, task, runId }) => {
        const stop = await stopWorker(pid, startTime);
        this.deps.events.emit('board.worker_stop', { board: record.slug, pid, task, run_id: runId, generation: record.generation, signal: stop.signal, result: stop.result, job });
        return { pid, task, runId, ...stop };
      }),
    );
  }

  /**
   * Holds the board's quarantine folder to `kanban.quarantine_keep` sets after a copy was kept or
   * sidecars were moved aside. A prune that fails is reported, never taken for a failed job.
   */
  pruneQuarantine(record: BoardRecord): void {
    try {
      const removed = pruneQuarantine({ dir: quarantineDir(this.config.state_dir, record.slug), slug: record.slug, dbPath: record.path, keep: this.config.kanban.quarantine_keep });
      if (removed.length > 0) this.deps.events.emit('board.quarantine_pruned', { board: record.slug, removed });
    } catch (err) {
      this.deps.events.emit('supervisor.error', { during: 'quarantine prune', board: record.slug, error: (err as Error).message });
    }
  }

  /** Each board's generation now, by slug. */
  generations(): Map<string, number> {
    return new Map([...this.boards.values()].map((record) => [record.slug, record.generation]));
  }

  /** Profiles holding an older generation of any board, as the last audit (or a fresh one) saw them. */
  staleHolders(audit: AuditSummary = this.audit()): Holder[] {
    return staleHolders(audit.holders, this.generations());
  }

  /** Notes the generation of every board a granted gateway is spawned on; a denied one is on none. */
  noteSpawn(profile: string, granted: boolean): void {
    for (const record of this.boards.values()) {
      if (granted) record.spawnedOn.set(profile, record.generation);
      else record.spawnedOn.delete(profile);
    }
  }

  async start(): Promise<void> {
    for (const spec of this.deps.plan.boards) this.adopt(spec, false);
    const { config } = this;
    this.stirred();
    this.unsubscribe = this.deps.events.subscribe((event) => {
      if (STIRS_HOLDERS.test(event.type)) this.stirred();
    });
    this.watcher = new BoardWatcher({
      folders: [...watchedFolders(config), ...this.targetFolders()],
      pollIntervalMs: config.health.poll_interval,
      onEvent: (file) => this.onFileEvent(file),
      onPoll: () => this.poll(),
      onError: (err) => this.deps.events.emit('board.watch_error', { error: err.message }),
    });
    await this.watcher.start();
    for (const state of this.boards.values()) this.listenBeside(state);
  }

  /** Raw entry events from the folders of a board's path and of its real file, where a swap lands. */
  private listenBeside(state: BoardRecord): void {
    if (!this.watcher || !this.config.health.watch) return;
    for (const folder of new Set([path.dirname(state.path), path.dirname(state.realPath)])) this.watcher.watchEntriesOf(folder);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    for (const record of this.boards.values()) if (record.vanished) clearTimeout(record.vanished.timer);
    await this.watcher?.close();
  }

  /**
   * Stats a board's files and acts on an identity change. The hot path of a swap. `cause` says what
   * made it look: a file event, the poll, or the supervisor's own work (a job's re-stat, the look
   * before a probe or a checkpoint opens the board). The poll, a safety net run every `health.poll_interval`, stats
   * the board file alone unless `sidecars` asks for its -wal and -shm too (before an audit).
   */
  check(state: BoardRecord, detectedBy: RestatCause, sidecars = detectedBy !== 'poll'): void {
    if (this.stopped) return;
    let ids: BoardIdentities;
    let real: string;
    try {
      // stat follows a symlink: a swap of its target, and a link re-pointed at another file, both show here.
      if (!sidecars && compareIdentity(state.identity, readIdentity(state.path)).kind === 'same') return;
      real = resolveBoardPath(state.path).real;
      ids = readBoardIdentities(state.path, real);
    } catch (err) {
      // An unreadable folder (EACCES, EIO) is reported and looked at again at the next poll.
      this.deps.events.emit('board.stat_error', { board: state.slug, path: state.path, error: (err as Error).message });
      return;
    }
    const formerReal = this.retarget(state, real);
    const change = compareIdentity(state.identity, ids.db);
    switch (change.kind) {
      case 'same':
        rememberFiles(state, { wal: ids.wal, shm: ids.shm, journal: ids.journal });
        return;
      case 'gone':
        this.onVanished(state, change.old, detectedBy, formerReal);
        return;
      case 'swap':
        this.onReplaced(state, change.old, change.next, ids, detectedBy, formerReal);
        return;
      case 'appeared':
        this.onReplaced(state, state.vanished?.old ?? null, change.next, ids, detectedBy, formerReal);
        return;
    }
  }

  /**
   * Holders of every board, and which of them break the grant policy. Runs on every poll on fds
   * alone; `check` adds /proc/<pid>/maps for a thorough audit.
   */
  audit(options: AuditOptions = {}): AuditSummary {
    const owners = this.owners();
    const result = auditHolders(holderTargets(this.boards.values()), owners, options);
    this.lastAuditMs = Date.now();
    this.lastAudit = { at: new Date().toISOString(), durationMs: result.durationMs, holders: result.holders };
    // Only what this audit saw is remembered: the set never outgrows the violations of the moment,
    // and a pid reused later by another denied holder is reported anew.
    const earlier = this.reported;
    this.reported = new Set();
    for (const holder of result.holders) {
      const gateway = this.deps.fleet.get(holder.owner);
      if (!gateway || gateway.profile.grant) continue;
      const id = `${holder.pid}:${holder.board}`;
      this.reported.add(id);
      if (earlier.has(id)) continue;
      this.deps.events.emit('policy.violation', {
        profile: holder.owner,
        pid: holder.pid,
        board: holder.board,
        role: holder.role,
        generation: holder.generation,
        reason: 'a denied profile holds a shared board',
      });
    }
    for (const listener of this.auditListeners) listener(this.lastAudit);
    return this.lastAudit;
  }

  /**
   * Records where a board's path leads now. A link re-pointed elsewhere has its new target's folder
   * watched, so a later swap there is seen by file events too. Returns the former real path when it moved.
   */
  private retarget(state: BoardRecord, real: string): string | undefined {
    if (real === state.realPath) return undefined;
    const former = state.realPath;
    state.realPath = real;
    this.followTarget(state);
    this.listenBeside(state);
    return former;
  }

  /** Watches the folder of a symlinked board's real file: a swap of the target happens there, not beside the link. */
  private followTarget(state: BoardRecord): void {
    if (!this.watcher || !this.config.health.watch || !isLinked(state)) return;
    this.watcher.watchFolders([{ path: path.dirname(state.realPath), depth: 0 }]).catch((err: Error) => {
      this.deps.events.emit('board.watch_error', { board: state.slug, error: err.message });
    });
  }

  /** The real files' folders of the symlinked boards, watched beside the configured ones. */
  private targetFolders(): Array<{ path: string; depth: number }> {
    if (!this.config.health.watch) return [];
    const linked = [...this.boards.values()].filter(isLinked);
    return [...new Set(linked.map((state) => path.dirname(state.realPath)))].map((folder) => ({ path: folder, depth: 0 }));
  }

  private onFileEvent(file: string): void {
    for (const state of this.boards.values()) {
      if ([state.path, state.realPath].some((db) => file === db || file === `${db}-wal` || file === `${db}-shm`)) {
        this.check(state, 'watch');
        return;
      }
    }
    if (this.config.kanban.boards === 'auto' && path.basename(file) === 'kanban.db') this.discover();
  }

  private stirred(): void {
    this.auditsUntil = Date.now() + AUDIT_SETTLE_POLLS * this.config.health.poll_interval;
  }

  /**
   * The safety net for missed file events, and the holder audit. Idle, it costs a stat per board;
   * the audit reads /proc for every gateway, so it runs on every poll only for a while after something
   * happened, and otherwise every `health.audit_interval`.
   */
  private poll(): void {
    if (this.stopped) return;
    const now = Date.now();
    const audits = now < this.auditsUntil || now - this.lastAuditMs >= this.config.health.audit_interval;
    for (const state of this.boards.values()) this.check(state, 'poll', audits);
    // A new board's kanban.db is a file event; the poll's own look for new boards is a safety net
    // that rides on the audit's schedule, or on every poll when nothing watches.
    if (this.config.kanban.boards === 'auto' && (audits || !this.config.health.watch)) this.discover();
    for (const listener of this.pollListeners) listener();
    if (!audits) return;
    // A stale holder the swap path could not see (it opened the old file in between) is fenced now.
    const staleBoards = new Set(this.staleHolders().map((holder) => holder.board));
    for (const slug of staleBoards) {
      const state = this.boards.get(slug);
      if (state) this.restart(state, 'stale', this.fence(state, []).profiles);
    }
  }

  private discover(): void {
    for (const spec of discoverBoards(this.config.hermes_home, 'auto', (slug) => this.boards.has(slug))) this.adopt(spec, true);
  }

  private adopt(spec: BoardSpec, announce: boolean): void {
    const real = resolveBoardPath(spec.path).real;
    const state = newBoardRecord(spec, readBoardIdentities(spec.path, real), real);
    this.boards.set(spec.slug, state);
    this.followTarget(state);
    this.listenBeside(state);
    if (announce) {
      this.deps.events.emit('board.new', { board: spec.slug, ...pathsOf(state), new: idOf(state.identity), generation: state.generation });
    }
  }

  /**
   * The file is missing: deleted, or (for a symlinked board) the link dangles, its target deleted or
   * the link re-pointed at nothing. Either way the board is missing until a file is there again.
   */
  private onVanished(state: BoardRecord, old: Identity, detectedBy: RestatCause, formerReal: string | undefined): void {
    advanceGeneration(state, null);
    // With the board gone, every sidecar still at its path (beside the real file SQLite would open)
    // belongs to the old file: out of the way before anything re-creates the board and picks them up by name.
    const left = readSidecars(state.realPath);
    this.moveSidecars(state, SIDECAR_ROLES.filter((role) => left[role] !== null));
    // Fenced now, restarted later: a gateway started while the file is missing could create an
    // empty board of its own and race whatever is re-creating it.
    const { profiles } = this.fence(state, []);
    // An unlink is often followed by a re-create (an init takes a moment): wait before calling it gone.
    const timer = setTimeout(() => {
      state.vanished = null;
      this.deps.events.emit('board.gone', {
        board: state.slug,
        ...pathsOf(state, formerReal),
        old: idOf(old),
        generation: state.generation,
        detected_by: detectedBy,
        ...jobOf(state),
      });
      this.restart(state, 'gone', profiles);
    }, Math.max(GONE_GRACE_MS, this.config.restart.debounce));
    state.vanished = { old, timer, fenced: profiles };
  }

  /**
   * Another file is at the board's path: replaced in place, re-created after it vanished, or (for a
   * symlinked board) its target replaced or the link re-pointed at another file. Each is a new identity.
   */
  private onReplaced(state: BoardRecord, old: Identity | null, next: Identity, ids: BoardIdentities, detectedBy: RestatCause, formerReal: string | undefined): void {
    const vanished = state.vanished;
    if (vanished) {
      clearTimeout(vanished.timer);
      state.vanished = null;
      state.identity = next;
    } else {
      advanceGeneration(state, next);
    }
    // Gateways spawned while the board was missing open the new file: they are on this generation.
    if (old === null) {
      for (const [profile, generation] of state.spawnedOn) if (generation === state.generation - 1) state.spawnedOn.set(profile, state.generation);
    }
    const type = old ? 'board.swap' : 'board.new';
    this.deps.events.emit(type, {
      board: state.slug,
      ...pathsOf(state, formerReal),
      old: idOf(old),
      new: idOf(next),
      generation: state.generation,
      detected_by: detectedBy,
      ...jobOf(state),
    });
    // Sidecars known to be older go first, a rename taking microseconds: every millisecond they stay,
    // a gateway opening the new file may pair it with them. Renaming a file a stale holder has open
    // does not disturb that holder.
    this.quarantineSidecars(state, ids, new Set());
    // Those left are audited too, so one a stale holder has open is known to be old.
    const rest = readSidecars(state.realPath);
    const sidecarTargets: HolderTarget[] = [];
    for (const role of SIDECAR_ROLES) {
      const sidecar = rest[role];
      if (sidecar) sidecarTargets.push({ key: fileKey(sidecar.dev, sidecar.ino), board: state.slug, generation: 0, role });
    }
    // Sidecars the gateways' stale holders have open go as soon as those are frozen, not after the
    // host-wide scan: a gateway opening the new file meanwhile would pair it with them.
    const moveStale = (keys: Set<string>) => {
      if (keys.size > 0) this.quarantineSidecars(state, { ...rest, db: next }, keys);
    };
    const fenced = this.fence(state, sidecarTargets, moveStale);
    moveStale(fenced.laterStaleKeys);
    this.restart(state, old ? 'swap' : 'new', [...fenced.profiles, ...(vanished?.fenced ?? [])]);
    rememberFiles(state, { db: next, ...readSidecars(state.realPath) });
    // A board whose folder was missing until now is listened to from here on.
    this.listenBeside(state);
  }

  /**
   * Fences every process of the supervisor's holding an older generation of the board: freezes them at
   * once (SIGSTOP), then stops them for good. The gateways' trees are audited and frozen first; then
   * the rest of the host, where a process that left its gateway's session (a double fork) or a kanban
   * worker is known by the marks in its environment, and frozen in the same step. Holders with no tie
   * to the supervisor are reported, never signalled. The sidecar keys the gateways' audit showed to
   * belong to the old file go to `gatewaysFrozen` right after their freeze; those only the host scan
   * found come back with the fenced profiles.
   */
  private fence(
    state: BoardRecord,
    extraTargets: HolderTarget[],
    gatewaysFrozen: (staleKeys: Set<string>) => void = () => undefined,
  ): { profiles: string[]; laterStaleKeys: Set<string> } {
    const targets = [...holderTargets([state]), ...extraTargets];
    const audit = auditHolders(targets, this.owners());
    const stateDir = this.config.state_dir;
    const groupOf = new Map<number, number>();
    const startTimes = new Map<number, number>();
    const ties = new Map<number, Tie>();
    for (const holder of audit.holders) {
      const stat = readProcStat(holder.pid);
      if (stat === null) continue;
      groupOf.set(holder.pid, stat.pgrp);
      startTimes.set(holder.pid, stat.startTime);
      // Outside its gateway's group, a holder may be a kanban worker still linked to it: its environment tells.
      if (stat.pgrp === this.deps.fleet.get(holder.owner)?.pid || ties.has(holder.pid)) continue;
      const env = readEnviron(holder.pid);
      const tie = env === null ? null : tieOf(env, stat.pgrp, stateDir);
      if (tie !== null) ties.set(holder.pid, tie);
    }
    const base = {
      holders: audit.holders,
      board: state.slug,
      generation: state.generation,
      fleet: this.fleetView(),
      groupOf,
      ties,
      keyOf: (holder: Holder) => extraTargets.find((target) => target.role === holder.role)?.key,
    };
    const first = planFence({ ...base, tied: [] });
    freeze(first.freeze);
    // The gateways' holders are frozen before the host-wide scan for escapees and workers: the event
    // keeps both times, so neither hides behind the other.
    const frozenAt = performance.now();
    gatewaysFrozen(first.staleKeys);
    const hostStarted = performance.now();
    const host = findHostHolders(targets, new Set([process.pid, ...audit.scannedPids]), stateDir);
    const hostMs = performance.now() - hostStarted;
    const tied = host.filter((holder): holder is HostHolder & { tie: Tie } => holder.tie !== null);
    for (const holder of host) startTimes.set(holder.pid, holder.startTime);
    const plan = planFence({ ...base, tied });
    const frozen = new Set(first.freeze.map((target) => `${target.group}:${target.pid}`));
    freeze(plan.freeze.filter((target) => !frozen.has(`${target.group}:${target.pid}`)));
    if (plan.freeze.length > 0) {
      const fencedPids = audit.holders.filter((holder) => plan.profiles.includes(holder.owner)).map((holder) => holder.pid);
      this.deps.events.emit('board.fence', {
        board: state.slug,
        profiles: plan.profiles,
        pids: [...new Set([...fencedPids, ...plan.outsiders.map((outsider) => outsider.pid), ...plan.workers.map((worker) => worker.pid)])],
        ...(plan.workers.length > 0 ? { workers: plan.workers.map((worker) => ({ pid: worker.pid, task: worker.task, run_id: worker.runId })) } : {}),
        generation: state.generation,
        audit_ms: Math.round(audit.durationMs * 1000) / 1000,
        host_ms: Math.round(hostMs * 1000) / 1000,
        gateways_frozen_ts_ms: Math.round((performance.timeOrigin + frozenAt) * 1000) / 1000,
      });
      this.stopFenced(plan.profiles, plan.outsiders, startTimes);
      for (const worker of plan.workers) this.stopWorker(state, worker, startTimes.get(worker.pid));
    }
    this.reportForeignHolders(state, host.filter((holder) => holder.tie === null));
    return { profiles: plan.profiles, laterStaleKeys: new Set([...plan.staleKeys].filter((key) => !first.staleKeys.has(key))) };
  }

  /**
   * Stops fenced gateways; a stale holder outside its gateway's group is killed once that gateway is
   * down, or at once when no gateway of the fleet is its own any more (its start time checked, so a
   * reused pid is never hit).
   */
  private stopFenced(profiles: string[], outsiders: FencePlan['outsiders'], startTimes: ReadonlyMap<number, number>): void {
    for (const profile of profiles) {
      const gateway = this.deps.fleet.get(profile);
      if (gateway) gateway.fenced = true;
    }
    const owners = new Set([...profiles, ...outsiders.map((outsider) => outsider.owner)]);
    for (const owner of owners) {
      const down = (owner === null ? undefined : this.deps.fleet.get(owner)?.stop()) ?? Promise.resolve();
      void down.then(() => {
        for (const { pid } of outsiders.filter((outsider) => outsider.owner === owner)) killProcess(pid, startTimes.get(pid));
      });
    }
  }

  /**
   * Ends a kanban worker frozen on the old file, so Hermes's dispatcher finds its pid dead and reclaims
   * the task; its gateway is left alone, as the worker outlives it by design.
   */
  private stopWorker(state: BoardRecord, worker: StaleWorker, startTime: number | undefined): void {
    // A later poll's audit may see the worker again while it is being ended: one stop is enough.
    const id = `${worker.pid}:${startTime}`;
    if (startTime === undefined || this.workerStops.has(id)) return;
    this.workerStops.add(id);
    void stopFrozenWorker(worker.pid, startTime).then((stop) => {
      this.workerStops.delete(id);
      this.deps.events.emit('board.worker_stop', {
        board: state.slug,
        pid: worker.pid,
        task: worker.task,
        run_id: worker.runId,
        generation: state.generation,
        signal: stop.signal,
        result: stop.result,
      });
    });
  }

  private fleetView(): Map<string, FleetMember> {
    return new Map([...this.deps.fleet.gateways.values()].map((gateway) => [gateway.name, { pid: gateway.pid, stopping: gateway.state === 'stopping' }]));
  }

  /**
   * Asks for the wave that brings fenced gateways back (and, with `on_swap: granted`, every granted
   * one). A new file at the path is initialised first: it may hold an older schema.
   */
  private restart(state: BoardRecord, reason: string, fenced: string[]): void {
    const granted = [...this.deps.fleet.gateways.values()].filter((gateway) => gateway.profile.grant).map((gateway) => gateway.name);
    const everyGranted = this.config.restart.on_swap === 'granted' && (reason === 'swap' || reason === 'new');
    const profiles = [...new Set(everyGranted ? [...fenced, ...granted] : fenced)];
    const requests: WaveRequest[] = profiles.length > 0 ? [{ profiles, reason, board: state.slug, mandatory: fenced }] : [];
    // A swap during the init joins its wave, after one more init on the newest file.
    const waiting = this.awaitingInit.get(state.slug);
    if (waiting) {
      waiting.push(...requests);
      return;
    }
    // Even with nobody to restart: gateways not fenced keep running on the new file. A swap a board
    // job made itself is that job's to follow up: it brings its gateways back.
    if ((reason === 'swap' || reason === 'new') && state.job === null) {
      void this.initThenWave(state, requests);
      return;
    }
    for (const request of requests) void this.deps.waves.request(request);
  }

  /**
   * Runs the staged init on the board's new file, again while the file keeps changing under it, then
   * asks for the wave. A failed init holds the granted fenced gateways (as a failed init at start
   * does) instead of starting them on a file whose schema is not known to be current.
   */
  private async initThenWave(state: BoardRecord, requests: WaveRequest[]): Promise<void> {
    this.awaitingInit.set(state.slug, requests);
    let ok = false;
    let error: string | undefined;
    try {
      for (let round = 0, generation: number | null = null; round < INIT_ROUNDS && generation !== state.generation && !this.stopped; round++) {
        generation = state.generation;
        ok = await this.deps.initSwapped(state);
      }
    } catch (err) {
      error = (err as Error).message;
    } finally {
      this.awaitingInit.delete(state.slug);
    }
    if (this.stopped) return;
    if (ok) {
      for (const request of requests) void this.deps.waves.request(request);
      return;
    }
    const fenced = [...new Set(requests.flatMap((request) => [...(request.mandatory ?? [])]))];
    const held = fenced.filter((profile) => this.deps.fleet.get(profile)?.profile.grant);
    for (const profile of held) this.deps.fleet.get(profile)!.hold(HOLD.initFailed);
    if (held.length > 0 || error !== undefined) this.deps.events.emit('supervisor.held', {
      profiles: held,
      board: state.slug,
      generation: state.generation,
      reason: `kanban.init_command failed for board ${state.slug} after its file was replaced${error === undefined ? '' : `: ${error}`}`,
      note: 'fix the board, then run `hermes-supervisor restart --all`',
    });
    // A denied gateway fenced for holding the board comes back as it would have: its env gives it no board.
    const rest = fenced.filter((profile) => !held.includes(profile));
    if (rest.length > 0) void this.deps.waves.request({ profiles: rest, reason: requests[0]!.reason, board: state.slug, mandatory: rest });
  }

  private quarantineSidecars(state: BoardRecord, ids: BoardIdentities, staleKeys: Set<string>): void {
    const sidecars = { wal: ids.wal, shm: ids.shm, journal: ids.journal };
    this.moveSidecars(state, oldSidecars({ state, sidecars, staleKeys }), sidecars);
  }

  /**
   * Moves sidecars into `<state_dir>/quarantine/<slug>/`, never deleting them. The renames happen
   * before this returns. With `judged`, only the very files judged old (same dev and inode) move.
   */
  private moveSidecars(state: BoardRecord, roles: readonly SidecarRole[], judged: Partial<Record<SidecarRole, Identity | null>> = {}): void {
    if (roles.length === 0) return;
    const dir = quarantineDir(this.config.state_dir, state.slug);
    const suffixes = roles.map((role) => `-${role}` as const);
    const expected = Object.fromEntries(
      roles.flatMap((role) => {
        const id = judged[role];
        return id ? [[`-${role}`, { dev: id.dev, ino: id.ino }]] : [];
      }),
    );
    moveAsideSidecars(state.path, dir, `gen${state.generation - 1}`, new Date(), suffixes, expected).then(
      (moved) => {
        if (moved.length > 0) this.deps.events.emit('board.sidecars', { board: state.slug, ...pathsOf(state), generation: state.generation, moved });
      },
      (err: Error) => this.deps.events.emit('board.sidecar_error', { board: state.slug, error: err.message }),
    );
  }

  /** Holders of the old generation with no tie to the supervisor: reported, never signalled. */
  private reportForeignHolders(state: BoardRecord, holders: Holder[]): void {
    const foreign = holders.filter((holder) => holder.generation > 0 && holder.generation < state.generation);
    if (foreign.length > 0) {
      this.deps.events.emit('board.foreign_holders', {
        board: state.slug,
        holders: foreign.map((holder) => ({ pid: holder.pid, process: holder.owner, role: holder.role, generation: holder.generation })),
        note: 'not started by the supervisor: reported, never signalled',
      });
    }
  }

  private owners(): Array<{ owner: string; pid: number }> {
    const owners: Array<{ owner: string; pid: number }> = [];
    for (const gateway of this.deps.fleet.gateways.values()) if (gateway.pid) owners.push({ owner: gateway.name, pid: gateway.pid });
    return owners;
  }
}

/** The folders whose events matter: the boards' own folders, and where `auto` finds new boards. */
function watchedFolders(config: FleetPlan['config']): Array<{ path: string; depth: number }> {
  if (!config.health.watch) return [];
  if (config.kanban.boards !== 'auto') {
    return [...new Set(config.kanban.boards.map((board) => path.dirname(board.path)))].map((folder) => ({ path: folder, depth: 0 }));
  }
  return [
    { path: config.hermes_home, depth: 0 },
    { path: boardsDir(config.hermes_home), depth: 1 },
  ];
}

/** Names the job in hand on an event the job itself may have caused. */
function jobOf(record: BoardRecord): { job?: string } {
  return record.job === null ? {} : { job: record.job };
}

/** The sidecars beside `realDb`, the file SQLite opens (a symlinked board's target). */
function readSidecars(realDb: string): Record<SidecarRole, Identity | null> {
  const ids = readBoardIdentities(realDb, realDb);
  return { wal: ids.wal, shm: ids.shm, journal: ids.journal };
}
