import { spawn } from 'node:child_process';
import { renameSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixture, python } from '../helpers/fixture.js';
import type { CliResult } from '../helpers/cli.js';
import type { EventTail } from './eventTail.js';
import type { ChaosFleet } from './fleet.js';
import type { Generation, GenerationOrigin } from './timeline.js';

export type SwapKind = 'rm-recreate' | 'rename-over' | 'kanban-init-recreate' | 'kanban-restore';

export interface FileIdentity {
  dev: number;
  ino: number;
  birthtimeMs: number;
}

export function statIdentity(file: string): FileIdentity | null {
  const st = statSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? { dev: Number(st.dev), ino: Number(st.ino), birthtimeMs: Number(st.birthtimeNs) / 1e6 } : null;
}

const SIDECARS = ['', '-wal', '-shm'] as const;

function removeBoard(file: string): void {
  for (const suffix of SIDECARS) rmSync(file + suffix, { force: true });
}

/** `hermes kanban init` as the fixture does it, at `file`; resolves when it exited 0. */
function initOnce(fleet: ChaosFleet, file: string): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [fixture, '--mode', 'init', '--db', file, '--profile', 'chaos-init', '--log', fleet.initLog, '--journal', fleet.journal], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ok: code === 0, stderr: stderr.trim() }));
  });
}

const INIT_ATTEMPTS = 5;

/**
 * Gateways that held nothing at the swap open the new file the moment it appears; an init racing
 * them for the switch to WAL can get SQLITE_BUSY without a busy wait. An operator runs it again.
 */
async function initAt(fleet: ChaosFleet, file: string, retries: { count: number }): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const result = await initOnce(fleet, file);
    if (result.ok) return;
    if (attempt >= INIT_ATTEMPTS || !/locked|busy/i.test(result.stderr)) {
      throw new Error(`init of ${file} failed (attempt ${attempt}): ${result.stderr}`);
    }
    retries.count += 1;
    await sleep(50 * attempt);
  }
}

/**
 * The ways the run replaces the board, each recording the file it put at the path and when, so
 * every logged write and error can be placed on the right generation afterwards.
 */
export class BoardOps {
  readonly generations: Generation[] = [];
  readonly swaps: Record<SwapKind, number> = { 'rm-recreate': 0, 'rename-over': 0, 'kanban-init-recreate': 0, 'kanban-restore': 0 };
  /** `kanban init` on a board that was there: maintenance, no new file. */
  maintenanceInits = 0;
  /** Inits run again after losing a lock race with a gateway opening the new file. */
  readonly initRetries = { count: 0 };
  readonly kanbanInitFailures: Array<{ code: number | null; stderr: string }> = [];
  /** `kanban restore` calls that did not replace the board (no `kanban.restore.done` with `ok`): the supervisor failed an operator's job. */
  readonly restoreFailures: Array<{ code: number | null; stdout: string; stderr: string }> = [];
  private readonly next: string;
  private readonly backup: string;

  constructor(
    private readonly fleet: ChaosFleet,
    private readonly cli: (args: string[], timeoutMs?: number) => Promise<CliResult>,
    private readonly tail: EventTail,
  ) {
    this.next = `${fleet.board}.next`;
    this.backup = `${fleet.board}.backup`;
  }

  get swapCount(): number {
    return Object.values(this.swaps).reduce((sum, n) => sum + n, 0);
  }

  async initial(): Promise<void> {
    await initAt(this.fleet, this.fleet.board, this.initRetries);
    this.record(this.mustStat(this.fleet.board), 'initial', null);
  }

  /** rm kanban.db and its sidecars, then a fresh init at the path. */
  async rmRecreate(): Promise<void> {
    const removedAt = Date.now();
    removeBoard(this.fleet.board);
    this.close(removedAt);
    await initAt(this.fleet, this.fleet.board, this.initRetries);
    this.record(this.mustStat(this.fleet.board), 'rm-recreate', null);
    this.swaps['rm-recreate'] += 1;
  }

  /** A new board prepared beside the old one, then renamed over it; the old sidecars stay behind by name. */
  async renameOver(): Promise<void> {
    removeBoard(this.next);
    await initAt(this.fleet, this.next, this.initRetries);
    const identity = this.mustStat(this.next);
    const renamedAt = Date.now();
    renameSync(this.next, this.fleet.board);
    this.close(renamedAt);
    this.record(identity, 'rename-over', renamedAt);
    this.swaps['rename-over'] += 1;
  }

  /**
   * `hermes-supervisor kanban init`. With `recreate` the board is deleted first, so the init the
   * supervisor runs creates a new file: a swap. Without it, the init finds the board and only
   * migrates it: maintenance, and the identity must not change.
   */
  async kanbanInit(recreate: boolean): Promise<CliResult> {
    const before = statIdentity(this.fleet.board);
    if (recreate) {
      const removedAt = Date.now();
      removeBoard(this.fleet.board);
      this.close(removedAt);
    }
    const result = await this.cli(['kanban', 'init'], 90_000);
    if (result.code !== 0) this.kanbanInitFailures.push({ code: result.code, stderr: result.stderr.slice(-2000) });
    const after = statIdentity(this.fleet.board);
    const last = this.generations.at(-1);
    const replaced = after !== null && (last === undefined || last.untilMs !== null || !sameIdentity(after, last));
    if (after && replaced) {
      if (!recreate && before) this.close(after.birthtimeMs);
      this.record(after, recreate ? 'kanban-init-recreate' : 'kanban-init', null);
    }
    if (recreate) this.swaps['kanban-init-recreate'] += 1;
    else this.maintenanceInits += 1;
    return result;
  }

  /**
   * `hermes-supervisor kanban restore` of a fresh board: the supervisor stops every holder, then
   * renames its copy in. The file is at the path from the rename on; the supervisor's own look at it
   * (its `board.swap` with `job: "restore"`, before any gateway is back) stands for that moment.
   */
  async kanbanRestore(): Promise<CliResult> {
    removeBoard(this.backup);
    await initAt(this.fleet, this.backup, this.initRetries);
    this.tail.poll();
    const mark = this.tail.events.length;
    const result = await this.cli(['kanban', 'restore', this.backup], 90_000);
    this.tail.poll();
    const since = this.tail.events.slice(mark);
    const swap = since.find((event) => event.type === 'board.swap' && event.job === 'restore');
    const done = since.find((event) => event.type === 'kanban.restore.done');
    const after = statIdentity(this.fleet.board);
    // Judged by what the supervisor did, not the exit code: a gateway the run SIGKILLs during the
    // wave that follows makes it 1 ("not ready") after a restore that went through.
    if (done?.ok !== true || !swap || !after) {
      this.restoreFailures.push({ code: result.code, stdout: result.stdout.slice(-2000), stderr: result.stderr.slice(-2000) });
      return result;
    }
    this.close(swap.ts_ms);
    this.record(after, 'kanban-restore', swap.ts_ms);
    this.swaps['kanban-restore'] += 1;
    return result;
  }

  private mustStat(file: string): FileIdentity {
    const identity = statIdentity(file);
    if (!identity) throw new Error(`${file} is missing right after its init`);
    return identity;
  }

  private close(atMs: number): void {
    const last = this.generations.at(-1);
    if (last && last.untilMs === null) last.untilMs = atMs;
  }

  private record(identity: FileIdentity, origin: GenerationOrigin, sinceMs: number | null): void {
    this.generations.push({
      seq: this.generations.length,
      ...identity,
      // Created in place: at the path from its birth on.
      sinceMs: sinceMs ?? identity.birthtimeMs,
      untilMs: null,
      origin,
    });
  }
}

const sameIdentity = (a: FileIdentity, b: FileIdentity) => a.dev === b.dev && a.ino === b.ino && a.birthtimeMs === b.birthtimeMs;
