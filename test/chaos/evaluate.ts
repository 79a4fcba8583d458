import Database from 'better-sqlite3';
import { readGatewayLog, type GatewayEvent } from '../helpers/gatewayLog.js';
import { statIdentity } from './boardOps.js';
import { checkFinalWrites, checkSpawnExitAlternation, classifyErrors, lateWrites, reactionTimes, staleActivity, swapFigures, type Violation } from './checks.js';
import type { SupervisorEvent } from './eventTail.js';
import { processesNaming, type Overlap } from './procWatch.js';
import { CHECKS, type ChaosReport } from './report.js';
import type { ChaosDriver } from './scenario.js';
import { spread } from './stats.js';
import { generationAt, mergeObserved, sameFile, type Generation } from './timeline.js';

const LISTED = 20;

interface FinalBoard {
  integrity: string;
  tables: string[];
  rows: Map<number, string>;
  rowsError: string | null;
}

/** integrity_check, the tables and every row's payload, read once every process of the run is gone. */
function readFinalBoard(file: string): FinalBoard {
  const db = new Database(file, { timeout: 5000 });
  try {
    const integrity = (db.pragma('integrity_check', { simple: true }) as string | undefined) ?? 'no result';
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((row) => row.name);
    const rows = new Map<number, string>();
    let rowsError: string | null = null;
    try {
      for (const row of db.prepare('SELECT id, payload FROM task_events').iterate() as Iterable<{ id: number; payload: string | null }>) {
        rows.set(row.id, row.payload ?? '');
      }
    } catch (error) {
      rowsError = (error as Error).message;
    }
    return { integrity, tables, rows, rowsError };
  } finally {
    db.close();
  }
}

/** The supervisor's events for one profile around a moment, as short lines. */
function excerpt(events: readonly SupervisorEvent[], atMs: number, profile?: string, windowMs = 1500): string[] {
  return events
    .filter((event) => Math.abs(event.ts_ms - atMs) <= windowMs && (!profile || !event.profile || event.profile === profile))
    .map((event) => {
      const { ts_ms, type, ts: _ts, ...rest } = event;
      return `${Math.round(ts_ms - atMs) >= 0 ? '+' : ''}${Math.round(ts_ms - atMs)} ms ${type} ${JSON.stringify(rest)}`;
    });
}

/** Adjacent samples showing the same pair of processes are one finding. */
function groupOverlaps(overlaps: readonly Overlap[]): Array<Overlap & { untilMs: number; samples: number }> {
  const grouped: Array<Overlap & { untilMs: number; samples: number }> = [];
  for (const overlap of overlaps) {
    const key = overlap.processes.map((p) => p.pid).sort().join(',');
    const last = grouped.find((g) => g.profile === overlap.profile && g.processes.map((p) => p.pid).sort().join(',') === key);
    if (last) {
      last.untilMs = overlap.atMs;
      last.samples += 1;
    } else {
      grouped.push({ ...overlap, untilMs: overlap.atMs, samples: 1 });
    }
  }
  return grouped;
}

export function evaluate(driver: ChaosDriver, seed: number, startedAt: number): ChaosReport {
  const { fleet } = driver;
  const events = driver.tail.events;
  const violations: Violation[] = [...driver.violations];
  const notes = [...driver.notes];

  for (const failure of driver.ops.restoreFailures) {
    violations.push({ check: 'scenario', message: `kanban restore did not replace the board (exit ${failure.code}): ${(failure.stderr || failure.stdout).trim().split('\n')[0]}`, details: failure });
  }

  const leftovers = processesNaming(fleet.root);
  for (const process of leftovers) {
    violations.push({ check: 'leftover-processes', message: `pid ${process.pid} (${process.state}) still runs after the final stop: ${process.cmdline}` });
  }

  const logs = new Map<string, GatewayEvent[]>(fleet.profiles.map((profile) => [profile.name, readGatewayLog(fleet.logFile(profile.name))]));
  const { generations, unexplained } = mergeObserved(driver.ops.generations, driver.watch.pathIdentities);
  const final = generations.at(-1) as Generation;
  const reinits = generations.filter((generation) => generation.origin === 'kanban-init').length;
  if (reinits > 0) notes.push(`${reinits} kanban init call(s) on a present board replaced the file (expected: migrate in place)`);
  const onDisk = statIdentity(fleet.board);
  if (!onDisk || onDisk.dev !== final.dev || onDisk.ino !== final.ino) {
    notes.push(`the board on disk (${JSON.stringify(onDisk)}) is not the last recorded generation (${JSON.stringify(final)})`);
  }

  let board: FinalBoard = { integrity: 'board missing', tables: [], rows: new Map(), rowsError: null };
  if (onDisk) {
    try {
      board = readFinalBoard(fleet.board);
    } catch (error) {
      board = { ...board, integrity: `cannot open: ${(error as Error).message}` };
    }
  }
  if (board.integrity !== 'ok') violations.push({ check: 'integrity', message: `integrity_check on the final board: ${board.integrity}` });

  // An init that logged success on the final file acknowledged its schema: the tables must be there.
  const schemaAcks = readGatewayLog(fleet.initLog).filter(
    (event) => event.event === 'init' && sameFile(event, final) && event.ts_ms > final.birthtimeMs,
  );
  if (schemaAcks.length > 0 && !board.tables.includes('task_events')) {
    violations.push({
      check: 'acknowledged-writes',
      message: `the final file lacks task_events (tables: ${board.tables.join(', ') || 'none'}) although ${schemaAcks.length} init(s) logged its schema into it (pid ${schemaAcks.map((event) => event.pid).join(', ')})`,
      details: { inits: schemaAcks, rows_error: board.rowsError, events: excerpt(events, schemaAcks[0]!.ts_ms, undefined, 1500) },
    });
  }

  const written = checkFinalWrites(logs, final, board.rows);
  for (const write of written.missing.slice(0, LISTED)) {
    violations.push({
      check: 'acknowledged-writes',
      message: `${write.profile} pid ${write.pid}: row ${write.rowid} acknowledged at ${write.ts_ms} into the final file is not in it`,
      details: write,
    });
  }
  for (const { write, payload } of written.mismatched.slice(0, LISTED)) {
    violations.push({
      check: 'acknowledged-writes',
      message: `${write.profile} pid ${write.pid}: row ${write.rowid} holds another writer's payload ${payload}`,
      details: write,
    });
  }
  const unlisted = Math.max(0, written.missing.length - LISTED) + Math.max(0, written.mismatched.length - LISTED);
  if (unlisted > 0) violations.push({ check: 'acknowledged-writes', message: `${unlisted} more lost or mismatched writes (not listed)` });
  if (written.checked === 0 && !violations.some((violation) => violation.check === 'acknowledged-writes')) {
    violations.push({ check: 'scenario', message: 'no acknowledged write went into the final file: nothing was checked' });
  }

  const alternation = checkSpawnExitAlternation(events, (profile, pid) => driver.watch.lastSeen(profile, pid));
  for (const violation of alternation.violations) {
    const at = (violation.details as { ts_ms?: number } | undefined)?.ts_ms ?? 0;
    const profile = (violation.details as { profile?: string } | undefined)?.profile;
    violations.push({ ...violation, details: { ...(violation.details as object), events: excerpt(events, at, profile) } });
  }
  notes.push(...alternation.notes);
  const overlaps = groupOverlaps(driver.watch.overlaps);
  for (const overlap of overlaps) {
    violations.push({
      check: 'one-gateway-per-profile',
      message: `${overlap.profile}: ${overlap.processes.length} live gateway processes at once in /proc (${overlap.processes.map((p) => `${p.pid}:${p.state}`).join(', ')}), ${overlap.samples} sample(s)`,
      details: { ...overlap, events: excerpt(events, overlap.atMs, overlap.profile, 3000) },
    });
  }

  const reactions = reactionTimes(events, generations);
  const stale = staleActivity(logs, generations);
  const errors = classifyErrors(logs, generations, reactions, stale);
  for (const error of errors.ioCurrent.slice(0, LISTED)) {
    violations.push({
      check: 'io-errors',
      message: `${error.profile} pid ${error.pid}: "${error.error}" (${error.stage}) on the current file ${error.dev}:${error.ino}`,
      details: { error, events: excerpt(events, error.ts_ms, undefined, 1000) },
    });
  }
  for (const error of errors.ioOnOpenCurrent.slice(0, LISTED)) {
    violations.push({
      check: 'io-errors',
      message: `${error.profile} pid ${error.pid}: "${error.error}" (${error.stage}) opening the board while one file had been at the path for 250 ms`,
      details: { error, events: excerpt(events, error.ts_ms, undefined, 1000) },
    });
  }
  const late = lateWrites(logs, generations);
  const figures = swapFigures(events, generations);

  const failed = new Set(violations.map((violation) => violation.check));
  const checks = Object.fromEntries([...CHECKS, 'scenario' as const].map((check) => [check, failed.has(check) ? 'fail' : 'pass'])) as ChaosReport['checks'];
  const seenProcesses = driver.watch.seen.size;
  return {
    ok: violations.length === 0,
    seed,
    started_at: new Date(startedAt).toISOString(),
    duration_s: Math.round((Date.now() - startedAt) / 100) / 10,
    checks,
    violations,
    swaps: {
      total: driver.ops.swapCount,
      by_kind: { ...driver.ops.swaps },
      maintenance_kanban_inits: driver.ops.maintenanceInits,
      bursts: driver.bursts,
      mid_wave_bursts: driver.midWaveBursts,
      kanban_init_failures: driver.ops.kanbanInitFailures,
      restore_failures: driver.ops.restoreFailures,
      init_retries: driver.ops.initRetries.count,
    },
    supervisor_events: {
      board_swap: figures.boardSwaps,
      board_gone: figures.boardGone,
      detected_by: figures.detectedBy,
      fences: figures.fences,
      later_fences: figures.laterFences,
      fenced_on_unlink: figures.fencedOnUnlink,
      swap_to_fence_ms: spread(figures.swapToFenceMs),
      action_to_fence_ms: Object.fromEntries(Object.entries(figures.actionToFenceMs).map(([kind, values]) => [kind, spread(values)])),
      audit_ms: spread(figures.auditMs),
      file_landed_to_swap_event_ms: spread(figures.detectMs),
      waves: {
        started: figures.waves.started,
        done: figures.waves.done,
        replans: figures.waves.replans,
        duration_ms: spread(figures.waves.durationMs),
        failed: figures.waves.failed,
      },
      kanban_inits: { started: figures.kanbanInits.started, done: figures.kanbanInits.done, not_ok: figures.kanbanInits.notOk },
      spawns: alternation.spawns,
      leftovers: alternation.leftovers,
      unparsable_lines: driver.tail.unparsable,
    },
    gateways_killed: { count: driver.kills.length, kills: driver.kills },
    supervisor_kill: driver.supervisorKill,
    writes: {
      total: late.total,
      final_generation: {
        checked: written.checked,
        by_older_processes: written.byOlderProcesses,
        missing: written.missing.length,
        mismatched: written.mismatched.length,
      },
      late_into_old_inodes: { count: late.late, late_ms: spread(late.lateMs), by_profile: late.byProfile },
      unknown_file: late.unknownFile,
    },
    errors: {
      busy_locked: errors.busy,
      io_current: errors.ioCurrent.length,
      io_stale: errors.ioStale,
      io_on_open_current: errors.ioOnOpenCurrent.length,
      io_before_reaction: Object.fromEntries(Object.entries(errors.ioBeforeReaction).map(([kind, list]) => [kind, list.length])),
      io_before_reaction_examples: Object.values(errors.ioBeforeReaction)
        .flat()
        .slice(0, LISTED)
        .map((error) => {
          // Why it counts apart: the reaction it began before, or the stale commits it ran across.
          const reaction = reactions.get(generationAt(generations, error.ts_ms)!) ?? null;
          const began = error.began_ms ?? error.ts_ms;
          const across = stale.filter((ts) => ts >= began && ts <= error.ts_ms);
          return { error, reaction_ended_ms: reaction, stale_commits_during_ms: across, events: excerpt(events, error.ts_ms, undefined, 200) };
        }),
      io_unattributed: errors.ioUnattributed.length,
      io_unattributed_examples: errors.ioUnattributed.slice(0, LISTED).map((error) => ({
        error,
        generation_at_path: generationAt(generations, error.ts_ms),
        events: excerpt(events, error.ts_ms, undefined, 500),
      })),
      other: errors.other,
    },
    generations: {
      recorded: generations.length,
      unexplained,
      final,
      final_rows: board.rows.size,
      final_tables: board.tables,
      final_rows_error: board.rowsError,
      integrity: board.integrity,
    },
    proc: { samples: driver.watch.samples, overlaps: overlaps.length, gateway_processes_seen: seenProcesses },
    final_stop: driver.finalStop,
    notes,
  };
}
