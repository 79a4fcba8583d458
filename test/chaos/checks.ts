import type { ErrorEvent, GatewayEvent, WriteEvent } from '../helpers/gatewayLog.js';
import type { SupervisorEvent } from './eventTail.js';
import { generationAt, generationOf, sameFile, type Generation } from './timeline.js';

export interface Violation {
  check: 'integrity' | 'acknowledged-writes' | 'one-gateway-per-profile' | 'leftover-processes' | 'io-errors' | 'fleet-running-at-end' | 'scenario';
  message: string;
  details?: unknown;
}

export const IO_ERROR = /disk I\/O|malformed|not a database|corrupt/i;
export const BUSY_ERROR = /locked|busy/i;

type Live = { pid: number; ts_ms: number };

/**
 * Per profile, spawn and exit must alternate in the event log: a spawn while the previous pid has
 * not exited means two gateways at once. Across a supervisor killed with SIGKILL, the gateway it
 * left is closed by the next supervisor's `gateway.leftover`; when that is missing too, /proc
 * sampling decides whether the old process was still alive when the new one was spawned.
 */
export function checkSpawnExitAlternation(
  events: readonly SupervisorEvent[],
  lastSeen: (profile: string, pid: number) => number | undefined,
): { violations: Violation[]; notes: string[]; spawns: number; leftovers: number } {
  const violations: Violation[] = [];
  const notes: string[] = [];
  const current = new Map<string, Live>();
  const carried = new Map<string, Live>();
  let spawns = 0;
  let leftovers = 0;
  for (const event of events) {
    const profile = typeof event.profile === 'string' ? event.profile : '';
    const pid = typeof event.pid === 'number' ? event.pid : -1;
    switch (event.type) {
      case 'supervisor.start':
        for (const [name, live] of current) carried.set(name, live);
        current.clear();
        break;
      case 'gateway.leftover':
        leftovers += 1;
        if (carried.get(profile)?.pid === pid) carried.delete(profile);
        else notes.push(`gateway.leftover for ${profile} pid ${pid} names no gateway the log left running`);
        break;
      case 'gateway.spawn': {
        spawns += 1;
        const previous = current.get(profile);
        if (previous) {
          violations.push({
            check: 'one-gateway-per-profile',
            message: `${profile}: pid ${pid} spawned while pid ${previous.pid} (spawned at ${previous.ts_ms}) had not exited`,
            details: { profile, pid, ts_ms: event.ts_ms, previous },
          });
        }
        const old = carried.get(profile);
        if (old) {
          const seen = lastSeen(profile, old.pid);
          if (seen !== undefined && seen >= event.ts_ms) {
            violations.push({
              check: 'one-gateway-per-profile',
              message: `${profile}: pid ${pid} spawned by the new supervisor while pid ${old.pid} from the killed one still ran (in /proc at ${seen})`,
              details: { profile, pid, ts_ms: event.ts_ms, old, last_seen_ms: seen },
            });
          } else {
            notes.push(`${profile}: exit of pid ${old.pid} (left by the killed supervisor) was not logged; /proc never saw it after the next spawn`);
          }
          carried.delete(profile);
        }
        current.set(profile, { pid, ts_ms: event.ts_ms });
        break;
      }
      case 'gateway.exit':
        if (current.get(profile)?.pid === pid) current.delete(profile);
        else notes.push(`gateway.exit for ${profile} pid ${pid}, which was not its running gateway`);
        break;
      case 'supervisor.stop':
        for (const [name, live] of current) {
          violations.push({
            check: 'one-gateway-per-profile',
            message: `${name}: supervisor.stop logged while pid ${live.pid} had no gateway.exit`,
            details: { profile: name, ...live },
          });
        }
        current.clear();
        break;
    }
  }
  return { violations, notes, spawns, leftovers };
}

export interface FinalWriteCheck {
  /** Acknowledged writes that went into the final file. */
  checked: number;
  /** Of those, writes by processes started before the final file existed (tick gateways that held nothing at the swap). */
  byOlderProcesses: number;
  missing: WriteEvent[];
  mismatched: Array<{ write: WriteEvent; payload: string }>;
}

/**
 * Every write acknowledged into the final file must be in it, with the writer's profile and pid.
 * A write belongs to the final file when its connection's (dev, ino) is the final file's and it was
 * logged after that file was born: a live connection keeps its inode allocated, so from then on no
 * other file can carry that inode number.
 */
export function checkFinalWrites(
  logs: ReadonlyMap<string, readonly GatewayEvent[]>,
  final: Generation,
  rows: ReadonlyMap<number, string>,
): FinalWriteCheck {
  const result: FinalWriteCheck = { checked: 0, byOlderProcesses: 0, missing: [], mismatched: [] };
  for (const events of logs.values()) {
    const started = new Map<number, number>();
    for (const event of events) if (event.event === 'start') started.set(event.pid, event.ts_ms);
    for (const event of events) {
      if (event.event !== 'write' || !sameFile(event, final) || event.ts_ms <= final.birthtimeMs) continue;
      result.checked += 1;
      if ((started.get(event.pid) ?? 0) < final.birthtimeMs) result.byOlderProcesses += 1;
      const payload = rows.get(event.rowid);
      if (payload === undefined) {
        result.missing.push(event);
        continue;
      }
      let parsed: { profile?: unknown; pid?: unknown } = {};
      try {
        parsed = JSON.parse(payload) as typeof parsed;
      } catch {
        // An unreadable payload is a mismatch below.
      }
      if (parsed.profile !== event.profile || parsed.pid !== event.pid) result.mismatched.push({ write: event, payload });
    }
  }
  return result;
}

export interface LateWrites {
  total: number;
  /** Writes into a file that was no longer at the board's path. */
  late: number;
  lateMs: number[];
  /** Writes into an identity no known generation had (should stay 0). */
  unknownFile: number;
  byProfile: Record<string, number>;
}

export function lateWrites(logs: ReadonlyMap<string, readonly GatewayEvent[]>, generations: readonly Generation[]): LateWrites {
  const result: LateWrites = { total: 0, late: 0, lateMs: [], unknownFile: 0, byProfile: {} };
  for (const [profile, events] of logs) {
    for (const event of events) {
      if (event.event !== 'write') continue;
      result.total += 1;
      const atPath = generationAt(generations, event.ts_ms);
      if (atPath && sameFile(event, atPath)) continue;
      const written = generationOf(generations, event, event.ts_ms);
      if (!written) {
        result.unknownFile += 1;
        continue;
      }
      result.late += 1;
      result.byProfile[profile] = (result.byProfile[profile] ?? 0) + 1;
      if (written.untilMs !== null) result.lateMs.push(event.ts_ms - written.untilMs);
    }
  }
  return result;
}

/** Origins of a file the run put at the path behind the supervisor's back. */
const UNANNOUNCED: ReadonlySet<string> = new Set(['rm-recreate', 'rename-over', 'kanban-init-recreate']);

const BOARD_EVENTS: ReadonlySet<string> = new Set(['board.swap', 'board.new', 'board.gone', 'supervisor.start']);

/**
 * For each file put at the path behind the supervisor's back, when the supervisor had reacted to it:
 * the fence that followed its board.swap/board.new (every stale holder frozen), or that event itself
 * when nobody was stale; Infinity for a file replaced before it was seen. Until then, SQLite's own
 * rules leave a window no observer can close: a holder mid-transaction on the old file has its
 * `-journal` (or the old `-wal`) at the names an opener of the new file looks at. Files the
 * supervisor put there itself (`kanban restore`: every holder stopped first) have no such window.
 */
export function reactionTimes(events: readonly SupervisorEvent[], generations: readonly Generation[]): Map<Generation, number> {
  const ends = new Map<Generation, number>();
  for (const generation of generations) {
    if (!UNANNOUNCED.has(generation.origin)) continue;
    const landedAt = events.findIndex((event) => {
      const next = event.new as { dev?: number; ino?: number } | null | undefined;
      return (
        (event.type === 'board.swap' || event.type === 'board.new') &&
        typeof next?.dev === 'number' &&
        typeof next.ino === 'number' &&
        sameFile({ dev: next.dev, ino: next.ino }, generation) &&
        event.ts_ms >= generation.birthtimeMs
      );
    });
    if (landedAt < 0) {
      ends.set(generation, Number.POSITIVE_INFINITY);
      continue;
    }
    const landed = events[landedAt]!;
    let end = landed.ts_ms;
    for (const event of events.slice(landedAt + 1)) {
      if (BOARD_EVENTS.has(event.type)) break;
      if (event.type === 'board.fence' && event.generation === landed.generation) {
        end = event.ts_ms;
        break;
      }
    }
    ends.set(generation, end);
  }
  return ends;
}

/**
 * When a process committed into, or failed on, a file no longer at the path, sorted: a stale writer
 * ending its transaction, which in rollback-journal mode deletes `<board>-journal` by name, whoever's
 * journal that name holds by then.
 */
export function staleActivity(logs: ReadonlyMap<string, readonly GatewayEvent[]>, generations: readonly Generation[]): number[] {
  const found: number[] = [];
  for (const events of logs.values()) {
    for (const event of events) {
      if ((event.event !== 'write' && event.event !== 'error') || event.dev === null || event.ino === null) continue;
      const atPath = generationAt(generations, event.ts_ms);
      if (atPath && sameFile(event, atPath)) continue;
      if (generationOf(generations, { dev: event.dev, ino: event.ino }, event.ts_ms)) found.push(event.ts_ms);
    }
  }
  return found.sort((a, b) => a - b);
}

export interface ErrorSummary {
  busy: number;
  /** I/O or corruption errors on the file at the path at that moment: violations. */
  ioCurrent: ErrorEvent[];
  /** The same on a file already replaced (a stale holder's problem, fenced anyway). */
  ioStale: number;
  /**
   * The same raised while opening, before the fixture knew the file's identity, when the path had
   * held one file for STABLE_MS before: the gateway can only have opened that file. Violations too.
   */
  ioOnOpenCurrent: ErrorEvent[];
  /** Raised while opening close to a swap: which file it was cannot be told. */
  ioUnattributed: ErrorEvent[];
  /**
   * I/O or corruption errors on the current file, by the kind of swap, in the window a swap nobody
   * announced leaves open: the failing step began before the supervisor's reaction to it ended (see
   * reactionTimes), or a stale writer ended a transaction on the replaced file while the step ran
   * (see staleActivity). Reported, not violations.
   */
  ioBeforeReaction: Record<string, ErrorEvent[]>;
  other: Record<string, number>;
}

/** An open takes a few ms (an I/O or corruption error does not wait on the busy timeout). */
const STABLE_MS = 250;

export function classifyErrors(
  logs: ReadonlyMap<string, readonly GatewayEvent[]>,
  generations: readonly Generation[],
  reactions: ReadonlyMap<Generation, number>,
  stale: readonly number[] = staleActivity(logs, generations),
): ErrorSummary {
  const summary: ErrorSummary = { busy: 0, ioCurrent: [], ioStale: 0, ioOnOpenCurrent: [], ioUnattributed: [], ioBeforeReaction: {}, other: {} };
  const inWindow = (event: ErrorEvent, atPath: Generation) => {
    const end = reactions.get(atPath);
    if (end === undefined) return false;
    const began = event.began_ms ?? event.ts_ms;
    return began < end || stale.some((ts) => ts >= began && ts <= event.ts_ms);
  };
  const onCurrent = (event: ErrorEvent, atPath: Generation, list: ErrorEvent[]) => {
    if (inWindow(event, atPath)) (summary.ioBeforeReaction[atPath.origin] ??= []).push(event);
    else list.push(event);
  };
  for (const events of logs.values()) {
    for (const event of events) {
      if (event.event !== 'error') continue;
      if (BUSY_ERROR.test(event.error)) {
        summary.busy += 1;
      } else if (IO_ERROR.test(event.error)) {
        const atPath = generationAt(generations, event.ts_ms);
        if (event.dev === null || event.ino === null) {
          const stable = atPath !== null && atPath === generationAt(generations, event.ts_ms - STABLE_MS);
          if (stable) onCurrent(event, atPath, summary.ioOnOpenCurrent);
          else summary.ioUnattributed.push(event);
          continue;
        }
        if (atPath && sameFile(event, atPath)) onCurrent(event, atPath, summary.ioCurrent);
        else summary.ioStale += 1;
      } else {
        const key = `${event.stage ?? '?'}: ${event.error}`;
        summary.other[key] = (summary.other[key] ?? 0) + 1;
      }
    }
  }
  return summary;
}

export interface SwapFigures {
  boardSwaps: number;
  boardGone: number;
  fences: number;
  /** From board.swap/board.new to the first fence of that generation, when the fence followed it. */
  swapToFenceMs: number[];
  /** First fences that came before their generation's board event: holders fenced on the unlink itself. */
  fencedOnUnlink: number;
  /** Fences after the first for a generation: a poll's audit catching a holder the swap path missed. */
  laterFences: number;
  auditMs: number[];
  /** From the run's own action (the rm or the rename) to the first fence after it, by the kind of swap. */
  actionToFenceMs: Record<string, number[]>;
  /** From the moment a recorded file landed at the path to the supervisor's board.swap naming it. */
  detectMs: number[];
  detectedBy: Record<string, number>;
  waves: { started: number; done: number; replans: number; durationMs: number[]; failed: string[] };
  kanbanInits: { started: number; done: number; notOk: number };
}

/** Each time a recorded file left the path, with the kind of action that replaced it. */
function replacements(generations: readonly Generation[]): Array<{ atMs: number; kind: string }> {
  const found: Array<{ atMs: number; kind: string }> = [];
  generations.forEach((generation, i) => {
    const next = generations[i + 1];
    if (generation.untilMs !== null && next) found.push({ atMs: generation.untilMs, kind: next.origin });
  });
  return found;
}

function actionToFence(events: readonly SupervisorEvent[], generations: readonly Generation[]): Record<string, number[]> {
  const fences = events.filter((event) => event.type === 'board.fence').map((event) => event.ts_ms);
  const actions = replacements(generations);
  const byKind: Record<string, number[]> = {};
  actions.forEach((action, i) => {
    const until = actions[i + 1]?.atMs ?? Number.POSITIVE_INFINITY;
    const fence = fences.find((ts) => ts >= action.atMs && ts < until);
    if (fence !== undefined) (byKind[action.kind] ??= []).push(fence - action.atMs);
  });
  return byKind;
}

export function swapFigures(events: readonly SupervisorEvent[], generations: readonly Generation[]): SwapFigures {
  const figures: SwapFigures = {
    boardSwaps: 0,
    boardGone: 0,
    fences: 0,
    swapToFenceMs: [],
    fencedOnUnlink: 0,
    laterFences: 0,
    auditMs: [],
    actionToFenceMs: actionToFence(events, generations),
    detectMs: [],
    detectedBy: {},
    waves: { started: 0, done: 0, replans: 0, durationMs: [], failed: [] },
    kanbanInits: { started: 0, done: 0, notOk: 0 },
  };
  let boardEventAt = new Map<number, number>();
  let fenced = new Set<number>();
  let fencedFirst = new Set<number>();
  for (const event of events) {
    const generation = typeof event.generation === 'number' ? event.generation : -1;
    switch (event.type) {
      case 'supervisor.start':
        // Generations count from 1 again in a new supervisor.
        boardEventAt = new Map();
        fenced = new Set();
        fencedFirst = new Set();
        break;
      case 'board.swap':
      case 'board.gone':
      case 'board.new': {
        if (event.type === 'board.swap') figures.boardSwaps += 1;
        if (event.type === 'board.gone') figures.boardGone += 1;
        if (!boardEventAt.has(generation)) boardEventAt.set(generation, event.ts_ms);
        if (fencedFirst.has(generation)) figures.fencedOnUnlink += 1;
        const by = String(event.detected_by ?? '?');
        figures.detectedBy[by] = (figures.detectedBy[by] ?? 0) + 1;
        const next = event.new as { dev?: number; ino?: number } | null | undefined;
        if (event.type === 'board.swap' && typeof next?.dev === 'number' && typeof next.ino === 'number') {
          const landed = generationOf(generations, { dev: next.dev, ino: next.ino }, event.ts_ms);
          if (landed && event.ts_ms >= landed.sinceMs) figures.detectMs.push(event.ts_ms - landed.sinceMs);
        }
        break;
      }
      case 'board.fence': {
        figures.fences += 1;
        if (typeof event.audit_ms === 'number') figures.auditMs.push(event.audit_ms);
        const at = boardEventAt.get(generation);
        if (fenced.has(generation)) figures.laterFences += 1;
        else if (at !== undefined) figures.swapToFenceMs.push(event.ts_ms - at);
        else fencedFirst.add(generation);
        fenced.add(generation);
        break;
      }
      case 'wave.start':
        figures.waves.started += 1;
        break;
      case 'wave.replan':
        figures.waves.replans += 1;
        break;
      case 'wave.done':
        figures.waves.done += 1;
        if (typeof event.duration_ms === 'number') figures.waves.durationMs.push(event.duration_ms);
        if (Array.isArray(event.failed)) figures.waves.failed.push(...(event.failed as string[]));
        break;
      case 'kanban.init.start':
        figures.kanbanInits.started += 1;
        break;
      case 'kanban.init.done':
        figures.kanbanInits.done += 1;
        if (event.ok !== true) figures.kanbanInits.notOk += 1;
        break;
    }
  }
  return figures;
}
