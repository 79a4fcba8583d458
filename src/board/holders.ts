import { performance } from 'node:perf_hooks';
import { listPids, openFiles, processTree, readProcStat, type OpenFile, type OpenFilesOptions } from './proc.js';
import type { SidecarRole } from './identity.js';
import { readEnviron } from '../proc/marks.js';
import { tieOf, type Tie } from './ties.js';

export type BoardRole = 'db' | SidecarRole;

/** One board file to look for, by the key (dev:ino) it had in one generation: a symlinked board's real file and the sidecars beside it. */
export interface HolderTarget {
  key: string;
  board: string;
  generation: number;
  role: BoardRole;
  /** When known, an open file must also have this birthtime: ext4 hands a freed inode number to the next file at once. */
  birthtimeMs?: number;
}

export interface Holder {
  owner: string;
  pid: number;
  board: string;
  generation: number;
  role: BoardRole;
  via: 'fd' | 'maps';
}

/**
 * `maps: true` also reads every audited process's /proc/<pid>/maps. Off by default: it multiplies the
 * cost of an audit by about seven here (see openFiles) and only adds holders that keep a mapping
 * without any fd, which cannot write the board. Turn it on for a thorough, unhurried audit.
 */
export type AuditOptions = Pick<OpenFilesOptions, 'maps'>;

export interface HolderAudit {
  holders: Holder[];
  durationMs: number;
  /** Processes whose fds and maps were read. */
  scanned: number;
  /** Their pids: a host-wide look that follows need not read them again. */
  scannedPids: ReadonlySet<number>;
}

/** Birthtimes from two stat calls may differ in the last float bits; a microsecond apart is another file. */
function sameBirth(a: number | undefined, b: number | undefined): boolean {
  return a === undefined || b === undefined || Math.abs(a - b) < 0.001;
}

/** Collects holder rows, one per pid/board/generation/role; the first sighting (fd before maps) wins. */
class HolderRows {
  readonly rows: Holder[] = [];
  private readonly seen = new Set<string>();
  private readonly byKey = new Map<string, HolderTarget[]>();

  constructor(targets: HolderTarget[]) {
    for (const target of targets) {
      const list = this.byKey.get(target.key);
      if (list === undefined) this.byKey.set(target.key, [target]);
      else list.push(target);
    }
  }

  get wanted(): Set<string> {
    return new Set(this.byKey.keys());
  }

  add(owner: string, file: OpenFile): void {
    for (const target of this.byKey.get(file.key) ?? []) {
      if (!sameBirth(target.birthtimeMs, file.birthtimeMs)) continue;
      const id = `${file.pid}\u0000${target.board}\u0000${target.generation}\u0000${target.role}`;
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      const { board, generation, role } = target;
      this.rows.push({ owner, pid: file.pid, board, generation, role, via: file.via });
    }
  }
}

/**
 * Which processes of the supervised fleet hold any target: each owner's gateway pid is its process
 * group, and the whole tree (group members and descendants) is audited under that owner. A process
 * in two owners' trees is reported once, under the first owner listed.
 */
export function auditHolders(
  targets: HolderTarget[],
  owners: Array<{ owner: string; pid: number }>,
  options: AuditOptions = {},
): HolderAudit {
  const started = performance.now();
  const rows = new HolderRows(targets);
  const wanted = rows.wanted;
  const read = { maps: options.maps ?? false };
  const trees = processTree(owners.map((o) => o.pid));
  const scannedPids = new Set<number>();
  for (const { owner, pid: root } of owners) {
    for (const pid of trees.get(root) ?? []) {
      if (scannedPids.has(pid)) continue;
      scannedPids.add(pid);
      for (const file of openFiles(pid, wanted, read)) rows.add(owner, file);
    }
  }
  return { holders: rows.rows, durationMs: performance.now() - started, scanned: scannedPids.size, scannedPids };
}

/** A holder outside the gateways' trees, with what /proc says of it. */
export interface HostHolder extends Holder {
  pgrp: number;
  startTime: number;
  /** Its tie to the supervisor (see tieOf); null for a foreign process. */
  tie: Tie | null;
}

/** Every process on the host but `excludePids` holding a target, with its stat; `visit` is given each one's rows. */
function scanHost(targets: HolderTarget[], excludePids: ReadonlySet<number>, options: AuditOptions, visit: (pid: number, files: OpenFile[]) => void): void {
  const wanted = new Set(targets.map((target) => target.key));
  const read = { maps: options.maps ?? false };
  for (const pid of listPids()) {
    if (excludePids.has(pid)) continue;
    const files = openFiles(pid, wanted, read);
    if (files.length > 0) visit(pid, files);
  }
}

/**
 * Holders outside the supervised fleet (a dashboard, an operator's sqlite3 shell), named
 * `pid:<comm>`. They are reported, never signalled. This reads the fds (and with `maps`, the maps)
 * of every process on the host, so it costs in proportion to the whole host, not the fleet: run it
 * on a swap or on demand, not on every audit tick.
 */
export function findForeignHolders(
  targets: HolderTarget[],
  excludePids: Set<number>,
  options: AuditOptions = {},
): Holder[] {
  const rows = new HolderRows(targets);
  scanHost(targets, excludePids, options, (pid, files) => {
    const stat = readProcStat(pid);
    if (stat === null) return;
    for (const file of files) rows.add(`pid:${stat.comm}`, file);
  });
  return rows.rows;
}

/**
 * Every holder outside `excludePids` (the gateways' trees, already audited), each with its tie to the
 * supervisor of `stateDir`: a process that left its gateway's session (a double fork, setsid) or a
 * kanban worker still carries the supervisor's marks. The environment is read only for a process
 * that holds a target, so the cost stays that of findForeignHolders. Rows are named `pid:<comm>`.
 */
export function findHostHolders(
  targets: HolderTarget[],
  excludePids: ReadonlySet<number>,
  stateDir: string,
  options: AuditOptions = {},
): HostHolder[] {
  const found: HostHolder[] = [];
  const rows = new HolderRows(targets);
  scanHost(targets, excludePids, options, (pid, files) => {
    const stat = readProcStat(pid);
    // A zombie holds nothing and its environ reads empty.
    if (stat === null || stat.state === 'Z') return;
    const env = readEnviron(pid);
    const tie = env === null ? null : tieOf(env, stat.pgrp, stateDir);
    const before = rows.rows.length;
    for (const file of files) rows.add(`pid:${stat.comm}`, file);
    for (const row of rows.rows.slice(before)) found.push({ ...row, pgrp: stat.pgrp, startTime: stat.startTime, tie });
  });
  return found;
}

/**
 * Splits holders by whether they hold a superseded generation of their board. A board missing from
 * `current` is not judged stale: only a known, newer generation makes a holder stale.
 */
export function classifyHolders(
  holders: readonly Holder[],
  current: ReadonlyMap<string, number>,
): { stale: Holder[]; current: Holder[] } {
  const result = { stale: [] as Holder[], current: [] as Holder[] };
  for (const holder of holders) {
    const generation = current.get(holder.board);
    if (generation !== undefined && holder.generation < generation) result.stale.push(holder);
    else result.current.push(holder);
  }
  return result;
}
