import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { corruptPages, initBoard, integrityCheck, seed } from './helpers/board.js';
import { ofType } from './helpers/events.js';
import { fixture, python } from './helpers/fixture.js';
import { brisk, startFleet, type Fleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import type { Scope } from './helpers/scope.js';
import { until } from './helpers/wait.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function query<T>(file: string, sql: string): T {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as T;
  } finally {
    db.close();
  }
}

const journalMode = (file: string) => query<string>(file, 'PRAGMA journal_mode');
const hasColumn = (file: string, column: string) => query<number>(file, `SELECT count(*) FROM pragma_table_info('tasks') WHERE name = '${column}'`) === 1;
const rowsWithId = (file: string, id: string) => query<number>(file, `SELECT count(*) FROM tasks WHERE id = '${id}'`);

/** Gone, or a zombie waiting for whichever parent it was handed to. */
function ended(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** A backup as an older Hermes left it (WAL, none of the newer columns) holding one task of its own. */
function olderBackup(file: string): void {
  execFileSync(python, [fixture, '--mode', 'tick', '--ticks', '1', '--db', file]);
  const db = new Database(file);
  try {
    db.prepare("INSERT INTO tasks (id, title, status, created_at) VALUES ('from-backup', 'b', 'todo', 0)").run();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** A writer holding a rollback-journal board, committing every 50 ms, and an init that migrates it in that mode. */
async function deleteBoardFleet(t: Scope): Promise<Fleet> {
  const dir = makeFleetDir(t, 'hs-restore-');
  return startFleet(t, {
    dir,
    board: (board) => initBoard(board, 'delete'),
    config: brisk({ kanban: { quarantine_keep: 1, init_command: [python, fixture, '--mode', 'init', '--journal', 'delete', '--profile', 'board-init'] } }),
    profiles: {
      writer: { mode: 'hold', intervalMs: 50, grant: true, args: ['--journal', 'delete'] },
      denied: { mode: 'idle', grant: false },
    },
  });
}

test('kanban restore stops every holder before the backup is renamed in, keeps the old board, migrates the backup in the board\'s journal mode', async (t) => {
  const fleet = await deleteBoardFleet(t);
  await fleet.waitForEvent(() => fleet.log('writer').some((event) => event.event === 'write'));
  const backup = path.join(fleet.root, 'backup.db');
  olderBackup(backup);
  const backupSha = sha(backup);
  const oldIno = statSync(fleet.board).ino;

  const result = await fleet.cli('kanban', 'restore', backup);
  t.is(result.code, 0, result.stderr + result.stdout);
  t.regex(result.stdout, /board default: restored from .*backup\.db \(delete mode\), integrity ok/);
  t.regex(result.stdout, /gateways back: writer/);

  const events = fleet.events();
  const start = ofType(events, 'kanban.restore.start')[0]!;
  t.deepEqual(start.profiles, ['writer'], 'the granted gateway is stopped for it; the denied one is not');
  const done = ofType(events, 'kanban.restore.done')[0]!;
  t.like(done, { board: 'default', ok: true, journal_mode: 'delete', integrity: 'ok' });
  t.like(ofType(events, 'board.swap')[0], { board: 'default', job: 'restore' }, 'the restore\'s own rename, seen as such');
  t.is(ofType(events, 'board.fence').length, 0, 'nobody was left on the old file to fence');
  t.is(ofType(events, 'gateway.spawn').filter((event) => event.profile === 'denied').length, 1, 'denied gateway untouched');

  // The writer was gone before the work (and so the rename) began, and none of its writes went to the old file after.
  const exitedAt = ofType(events, 'gateway.exit', 'writer')[0]!.ts_ms as number;
  t.true(exitedAt <= (start.ts_ms as number));
  const newIno = statSync(fleet.board).ino;
  t.not(newIno, oldIno);
  await fleet.waitForEvent(() => fleet.log('writer').some((event) => event.event === 'write' && event.ino === newIno));
  t.false(fleet.log('writer').some((event) => event.event === 'write' && event.ino === oldIno && event.ts_ms > exitedAt));

  t.is(journalMode(fleet.board), 'delete', 'a rollback-journal board stays one, though the backup was WAL');
  t.true(hasColumn(fleet.board, 'consecutive_failures'), 'the older backup was migrated by the init before the gateways came back');
  t.is(rowsWithId(fleet.board, 'from-backup'), 1);
  t.is(integrityCheck(fleet.board), 'ok');
  // The writer is back and commits every 50 ms: a journal there may be its own, never an older one.
  const journal = statSync(`${fleet.board}-journal`, { throwIfNoEntry: false });
  const restoredAt = ofType(events, 'board.swap')[0]!.ts_ms as number;
  t.true(journal === undefined || journal.birthtimeMs > restoredAt, 'no journal of the old file beside the restored one');
  t.is(sha(backup), backupSha, 'the backup itself is never written');
  const kept = done.kept as string;
  t.true(kept.startsWith(path.join(fleet.stateDir, 'quarantine', 'default')), kept);
  t.is(rowsWithId(kept, 'from-backup'), 0, 'the replaced board is kept as it was');
  t.regex(result.stdout, new RegExp(`kept as ${kept.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

test('kanban restore refuses a backup that is not a database, is missing, or is the board itself, and changes nothing', async (t) => {
  const fleet = await deleteBoardFleet(t);
  const ino = statSync(fleet.board).ino;
  const notADb = path.join(fleet.root, 'notes.txt');
  writeFileSync(notADb, 'root:x:0:0:root:/root:/bin/bash\n');
  const cases: Array<[string, RegExp]> = [
    [notADb, /the backup .*notes\.txt is not an SQLite database: header starts with 'root:x/],
    [path.join(fleet.root, 'missing.db'), /cannot read the backup .*missing\.db: ENOENT/],
    [fleet.board, /is board "default" itself; name a backup/],
  ];
  for (const [file, message] of cases) {
    const result = await fleet.cli('kanban', 'restore', file);
    t.is(result.code, 1, result.stdout);
    t.regex(result.stderr, message);
    t.is(result.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.is(readFileSync(notADb, 'utf8'), 'root:x:0:0:root:/root:/bin/bash\n');
  t.is(statSync(fleet.board).ino, ino, 'the board was not replaced');
  const events = fleet.events();
  t.is(ofType(events, 'kanban.restore.refused').length, 3);
  t.is(ofType(events, 'kanban.restore.start').length, 0);
  t.is(ofType(events, 'gateway.spawn').length, 2, 'no gateway was stopped');
  const unknown = await fleet.cli('kanban', 'restore', '--board', 'nope', notADb);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown board "nope"; known: default/);
});

test('a restore whose init fails keeps the granted gateways held off the restored file until restart --all', async (t) => {
  const dir = makeFleetDir(t, 'hs-restore-');
  const flag = path.join(dir.root, 'init-fails');
  const init = dir.script('init.py', `import os, sys\nsys.exit(3 if os.path.exists(${JSON.stringify(flag)}) else 0)\n`);
  const fleet = await startFleet(t, {
    dir,
    board: true,
    config: brisk({ kanban: { init_command: [python, init] } }),
    profiles: { writer: { mode: 'hold', intervalMs: 50, grant: true } },
  });
  const backup = path.join(fleet.root, 'backup.db');
  olderBackup(backup);
  writeFileSync(flag, '');
  const result = await fleet.cli('kanban', 'restore', backup);
  t.is(result.code, 1, result.stdout);
  t.regex(result.stdout, /restore from .*backup\.db FAILED: kanban\.init_command failed on the restored file \(exit 3\)/);
  t.regex(result.stdout, /gateways back: none/);
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout);
  t.like(status.profiles.find((profile: { name: string }) => profile.name === 'writer'), { state: 'stopped', pid: null });
  t.regex(status.boards[0].health, /^restore: kanban\.init_command failed/);
  t.is(rowsWithId(fleet.board, 'from-backup'), 1, 'the backup is in place, the old board kept');
  rmSync(flag);
  const restart = await fleet.cli('restart', '--all');
  t.is(restart.code, 0, restart.stderr + restart.stdout);
  const after = JSON.parse((await fleet.cli('status', '--json')).stdout);
  t.like(after.profiles.find((profile: { name: string }) => profile.name === 'writer'), { state: 'running' });
});

/** A dispatching gateway keeping one worker at a time on a task far longer than the test. */
const dispatcher = (extra: string[] = []) => ({
  mode: 'hold' as const,
  intervalMs: 100,
  args: ['--spawn-worker-every-ms', '200', '--max-workers', '1', '--worker-ms', '600000', ...extra],
  config: { kanban: { enabled: true, dispatch_in_gateway: true } },
});

test('kanban restore ends the board\'s kanban workers, which outlive their gateway, before renaming the backup in: the one holding it and the one opening it per tool call', async (t) => {
  const fleet = await startFleet(t, {
    dir: makeFleetDir(t, 'hs-restore-'),
    board: true,
    config: brisk({ kanban: { init_command: [python, fixture, '--mode', 'init', '--profile', 'board-init'] } }),
    profiles: { holding: dispatcher(['--worker-holds']), percall: dispatcher() },
  });
  const workers = await Promise.all(
    ['holding', 'percall'].map(async (profile) => {
      const spawn = await until(`a worker of ${profile}`, () => fleet.log(profile).find((event) => event.event === 'spawn'));
      const pid = spawn.worker as number;
      await until(`${profile}'s worker writing`, () => fleet.log(profile).some((event) => event.event === 'write' && event.pid === pid));
      return { profile, pid, task: spawn.task as string };
    }),
  );
  const backup = path.join(fleet.root, 'backup.db');
  olderBackup(backup);
  const oldIno = statSync(fleet.board).ino;

  const result = await fleet.cli('kanban', 'restore', backup);
  t.is(result.code, 0, result.stderr + result.stdout);
  t.like(ofType(fleet.events(), 'kanban.restore.done')[0], { ok: true });
  const newIno = statSync(fleet.board).ino;
  t.not(newIno, oldIno);
  const stops = ofType(fleet.events(), 'board.worker_stop');
  for (const { profile, pid, task } of workers) {
    t.regex(result.stdout, new RegExp(`task ${task} \\(pid ${pid}, SIGTERM\\)`), profile);
    t.like(stops.find((event) => event.pid === pid), { board: 'default', task, signal: 'SIGTERM', result: 'term', job: 'restore' }, profile);
    t.true(ended(pid), `${profile}'s worker is gone`);
    // It wrote only to the old file, and stopped on the SIGTERM before the backup was renamed in.
    const own = fleet.log(profile).filter((event) => event.pid === pid);
    t.like(own.findLast((event) => event.event === 'stop'), { signal: 'SIGTERM' }, profile);
    t.false(own.some((event) => event.event === 'write' && event.ino === newIno), profile);
  }
  t.is(rowsWithId(fleet.board, 'from-backup'), 1);
  t.is(integrityCheck(fleet.board), 'ok');
});

test('kanban restore mends a board held as corrupt in one command: the held gateways come back on the restored file', async (t) => {
  const fleet = await startFleet(t, {
    dir: makeFleetDir(t, 'hs-restore-'),
    board: (board) => seed(board, 2000),
    config: brisk({ kanban: { on_corruption: 'stop' } }),
    profiles: { writer: { mode: 'tick', intervalMs: 500, grant: true }, denied: { mode: 'idle', grant: false } },
  });
  const backup = path.join(fleet.root, 'good.db');
  const source = new Database(fleet.board, { readonly: true });
  await source.backup(backup);
  source.close();
  corruptPages(fleet.board, 40, 2);
  await fleet.cli('check');
  await fleet.waitForEvent((all) => ofType(all, 'board.stopped').length >= 1);
  const healthOf = async () => JSON.parse((await fleet.cli('status', '--json')).stdout).boards[0].health as string;
  t.is(await healthOf(), 'corrupt: stopped');

  // A refused restore leaves the hold as it was.
  const notADb = path.join(fleet.root, 'notes.txt');
  writeFileSync(notADb, 'not a database\n');
  t.is((await fleet.cli('kanban', 'restore', notADb)).code, 1);
  t.is(await healthOf(), 'corrupt: stopped');

  const result = await fleet.cli('kanban', 'restore', backup);
  t.is(result.code, 0, result.stderr + result.stdout);
  t.regex(result.stdout, /gateways back: writer/);
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout);
  t.like(status.profiles.find((profile: { name: string }) => profile.name === 'writer'), { state: 'running' });
  t.is(status.boards[0].health, 'ok');
  t.is(integrityCheck(fleet.board), 'ok');
  const check = await fleet.cli('check');
  t.is(check.code, 0, check.stdout);
  const kept = ofType(fleet.events(), 'kanban.restore.done')[0]!.kept as string;
  t.true(existsSync(kept), 'the corrupt board is kept in quarantine');
  t.is(ofType(fleet.events(), 'gateway.spawn').filter((event) => event.profile === 'denied').length, 1, 'denied gateway untouched');
});

test('a rebuild after a corruption ends the board\'s kanban workers before its copy, as a restore does', async (t) => {
  const fleet = await startFleet(t, {
    dir: makeFleetDir(t, 'hs-restore-'),
    board: (board) => seed(board, 2000),
    config: brisk({ kanban: { init_command: [python, fixture, '--mode', 'init', '--profile', 'board-init'] } }),
    profiles: { percall: dispatcher() },
  });
  const spawn = await until('a worker spawned', () => fleet.log('percall').find((event) => event.event === 'spawn'));
  const pid = spawn.worker as number;
  await until('the worker writing', () => fleet.log('percall').some((event) => event.event === 'write' && event.pid === pid));
  corruptPages(fleet.board, 40, 2);
  await fleet.cli('check');
  const events = await fleet.waitForEvent((all) => ofType(all, 'board.rebuilt').length >= 1);
  const stop = ofType(events, 'board.worker_stop').find((event) => event.pid === pid);
  t.like(stop, { board: 'default', task: spawn.task, signal: 'SIGTERM', job: 'quarantine and rebuild' });
  t.true((stop!.ts_ms as number) <= (ofType(events, 'board.quarantine')[0]!.ts_ms as number), 'ended before the copy');
  t.true(ended(pid));
  const rebuiltIno = statSync(fleet.board).ino;
  t.false(fleet.log('percall').some((event) => event.pid === pid && event.event === 'write' && event.ino === rebuiltIno));
  t.is(integrityCheck(fleet.board), 'ok');
});
