import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { readBoardIdentities, readIdentity, resolveBoardPath, workerBoard } from '../src/board/index.js';
import { installRebuilt, moveAsideSidecars, rebuildBoard } from '../src/maintenance/index.js';
import { corruptPages, initBoard, integrityCheck, seed } from './helpers/board.js';
import { ofType } from './helpers/events.js';
import { brisk, startFleet, type Fleet, type ProfileSpec } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { writesOf } from './helpers/gatewayLog.js';
import { tempDir } from './helpers/tempDir.js';

/** The link text every board here gets: relative, as `ln -s ../data/kanban.db` would write it. */
const LINK_TEXT = path.join('..', 'data', 'kanban.db');

const isLink = (file: string): boolean => lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() === true;

/** `<root>/hermes/kanban.db -> ../data/kanban.db`, the real file prepared by `prepare`. */
function linkedBoard(board: string, prepare: (real: string) => void): string {
  const real = path.join(path.dirname(path.dirname(board)), 'data', 'kanban.db');
  mkdirSync(path.dirname(real), { recursive: true });
  prepare(real);
  symlinkSync(LINK_TEXT, board);
  return real;
}

/** A supervisor over fixture gateways on a symlinked default board. */
async function startLinkedFleet(
  t: ExecutionContext,
  profiles: Record<string, ProfileSpec>,
  settings: { config?: Record<string, unknown>; prepare?: (real: string) => void } = {},
): Promise<{ fleet: Fleet; real: string }> {
  const dir = makeFleetDir(t, 'hs-link-');
  let real = '';
  const fleet = await startFleet(t, {
    dir,
    board: (board) => {
      real = linkedBoard(board, settings.prepare ?? ((file) => initBoard(file)));
    },
    config: brisk(settings.config),
    profiles,
  });
  return { fleet, real };
}

const count = (file: string, sql: string, ...params: unknown[]): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
};

test('a board path is resolved to its real file, link by link, also when the last link dangles', (t) => {
  const dir = tempDir(t, 'hs-resolve-');
  const data = path.join(dir, 'data');
  mkdirSync(data);
  const real = path.join(data, 'kanban.db');
  initBoard(real);
  symlinkSync(real, path.join(dir, 'middle.db'));
  symlinkSync('middle.db', path.join(dir, 'kanban.db'));
  symlinkSync('data', path.join(dir, 'folder'));

  t.deepEqual(resolveBoardPath(path.join(dir, 'kanban.db')), { path: path.join(dir, 'kanban.db'), real, linked: true });
  t.deepEqual(resolveBoardPath(real), { path: real, real, linked: false });
  t.is(resolveBoardPath(path.join(dir, 'folder', 'kanban.db')).real, real, 'a symlinked folder leads to the same file');
  t.is(workerBoard(real, [{ slug: 'ops', path: path.join(dir, 'kanban.db') }]), 'ops', 'a worker given the real file is on the linked board');
  symlinkSync(path.join(data, 'not-yet.db'), path.join(dir, 'dangling.db'));
  t.deepEqual(resolveBoardPath(path.join(dir, 'dangling.db')), { path: path.join(dir, 'dangling.db'), real: path.join(data, 'not-yet.db'), linked: true });
  symlinkSync('loop-b', path.join(dir, 'loop-a'));
  symlinkSync('loop-a', path.join(dir, 'loop-b'));
  t.is(path.dirname(resolveBoardPath(path.join(dir, 'loop-a')).real), dir, 'a loop of links ends without hanging');

  // SQLite writes the sidecars beside the real file; that is where they are looked for.
  const db = new Database(path.join(dir, 'kanban.db'));
  db.pragma('journal_mode = WAL');
  db.exec("INSERT INTO tasks (id, title, status, created_at) VALUES ('a', 'a', 'todo', 0)");
  try {
    t.true(existsSync(`${real}-wal`));
    t.false(existsSync(path.join(dir, 'kanban.db-wal')));
    const ids = readBoardIdentities(path.join(dir, 'kanban.db'));
    t.is(ids.db!.ino, readIdentity(real)!.ino);
    t.is(ids.wal!.ino, readIdentity(`${real}-wal`)!.ino);
    t.is(ids.shm!.ino, readIdentity(`${real}-shm`)!.ino);
  } finally {
    db.close();
  }
});

test('sidecars are moved from beside the real file, and an install replaces the real file, never the link', async (t) => {
  const dir = tempDir(t, 'hs-link-install-');
  const board = path.join(dir, 'hermes', 'kanban.db');
  mkdirSync(path.dirname(board));
  const real = linkedBoard(board, (file) => seed(file, 200));
  const temp = path.join(path.dirname(real), '.kanban.db.rebuild-1');
  t.is(rebuildBoard(board, temp).tables.task_events?.recovered, 200);
  // A leftover journal beside the real file, and a stray file beside the link.
  writeFileSync(`${real}-journal`, 'old generation');
  writeFileSync(`${board}-journal`, 'beside the link: not the board\'s');
  const moved = await moveAsideSidecars(board, path.join(dir, 'aside'), 'corrupt');
  t.is(moved.length, readdirSync(path.join(dir, 'aside')).length);
  t.true(moved.some((file) => file.endsWith('.journal')), `moved: ${moved.join(', ')}`);
  for (const suffix of ['-wal', '-shm', '-journal']) t.false(existsSync(real + suffix), `the real file's ${suffix} is moved`);
  t.true(existsSync(`${board}-journal`), 'a file beside the link is none of SQLite\'s');

  const beside = path.join(path.dirname(board), '.kanban.db.rebuild-1');
  writeFileSync(beside, '');
  t.throws(() => installRebuilt(beside, board), { message: new RegExp(`must be in ${path.dirname(real)}`) });
  const before = readIdentity(real)!;
  installRebuilt(temp, board);
  t.true(isLink(board), 'the link is still a link');
  t.is(readlinkSync(board), LINK_TEXT);
  t.not(readIdentity(real)!.ino, before.ino, 'the real file was replaced');
  t.is(count(board, 'SELECT count(*) AS n FROM task_events'), 200);
});

test('a swap of a symlinked board\'s target is seen by the watch: its sidecars are quarantined and the link stays a link', async (t) => {
  // An hour-long poll: the target's folder must be watched for the swap to be seen at all.
  const { fleet, real } = await startLinkedFleet(t, { h1: { mode: 'hold', grant: true, intervalMs: 100 }, quiet: { mode: 'idle', grant: true } }, { config: { health: { poll_interval: '1h' } } });
  await fleet.waitForEvent(() => writesOf(fleet.log('h1')).length >= 3);
  const oldWal = readIdentity(`${real}-wal`);
  t.truthy(oldWal, 'the holder keeps a WAL beside the real file');
  t.false(existsSync(`${fleet.board}-wal`), 'and none beside the link');
  const oldIno = readIdentity(real)!.ino;
  const oldPid = writesOf(fleet.log('h1'))[0]!.pid;

  initBoard(`${real}.new`);
  renameSync(`${real}.new`, real);

  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1 && ofType(all, 'board.sidecars').length >= 1);
  const swap = ofType(events, 'board.swap')[0]!;
  t.like(swap, { board: 'default', path: fleet.board, real_path: real, generation: 2, detected_by: 'watch' });
  t.is((swap.old as { ino: number }).ino, oldIno);
  t.false('old_real_path' in swap, 'the link was not re-pointed');
  t.deepEqual(ofType(events, 'board.fence')[0]!.profiles, ['h1']);
  const sidecars = ofType(events, 'board.sidecars')[0]!;
  t.like(sidecars, { path: fleet.board, real_path: real });
  const moved = sidecars.moved as string[];
  t.true(moved.every((file) => file.startsWith(path.join(fleet.stateDir, 'quarantine', 'default'))));
  t.true(moved.some((file) => readIdentity(file)?.ino === oldWal!.ino), 'the old WAL itself is in quarantine');
  t.deepEqual(ofType(events, 'wave.done')[0]!.restarted, ['h1']);

  // The restarted holder writes into the new file; the old one's rows never show there.
  const newPid = () => ofType(fleet.events(), 'gateway.spawn', 'h1')[1]?.pid;
  await fleet.waitForEvent(() => writesOf(fleet.log('h1')).filter((write) => write.pid === newPid()).length >= 3);
  t.true(isLink(fleet.board), 'the link is still a link');
  t.is(readlinkSync(fleet.board), LINK_TEXT);
  t.is(integrityCheck(fleet.board), 'ok');
  t.is(count(fleet.board, "SELECT count(*) AS n FROM task_events WHERE json_extract(payload, '$.pid') = ?", oldPid), 0, 'none of the old generation\'s rows');
  t.true(count(fleet.board, "SELECT count(*) AS n FROM task_events WHERE json_extract(payload, '$.pid') = ?", newPid()) >= 3);

  // Once more: what is watched is the target's folder, not whichever file the link led to at the start.
  initBoard(`${real}.new`);
  renameSync(`${real}.new`, real);
  const again = await fleet.waitForEvent((all) => ofType(all, 'board.swap').length >= 2 && ofType(all, 'wave.done').length >= 2);
  t.like(ofType(again, 'board.swap')[1], { real_path: real, generation: 3, detected_by: 'watch' });
  t.is(integrityCheck(fleet.board), 'ok');
});

test('a link re-pointed at another file is a swap; a link left dangling is a missing board', async (t) => {
  const { fleet, real } = await startLinkedFleet(t, { h1: { mode: 'hold', grant: true, intervalMs: 100 } });
  await fleet.waitForEvent(() => writesOf(fleet.log('h1')).length >= 3);
  const other = path.join(path.dirname(real), 'other.db');
  initBoard(other);
  const oldWal = readIdentity(`${real}-wal`)!;

  // As `ln -sfn other.db kanban.db` does it: a new link renamed over the old one.
  symlinkSync('../data/other.db', `${fleet.board}.tmp`);
  renameSync(`${fleet.board}.tmp`, fleet.board);
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1);
  const swap = ofType(events, 'board.swap')[0]!;
  t.like(swap, { board: 'default', path: fleet.board, real_path: other, old_real_path: real, generation: 2 });
  t.is((swap.new as { ino: number }).ino, readIdentity(other)!.ino);
  t.deepEqual(ofType(events, 'board.fence')[0]!.profiles, ['h1'], 'the holder of the former target is fenced');
  t.is(readIdentity(`${real}-wal`)?.ino, oldWal.ino, 'the former target keeps its own WAL: it is not the board any more, and not damaged');
  const newPid = () => ofType(fleet.events(), 'gateway.spawn', 'h1')[1]?.pid;
  await fleet.waitForEvent(() => writesOf(fleet.log('h1')).some((write) => write.pid === newPid() && write.ino === readIdentity(other)!.ino));

  // The link's target deleted: the link dangles, the board is missing.
  for (const suffix of ['', '-wal', '-shm']) rmSync(other + suffix, { force: true });
  const gone = await fleet.waitForEvent((all) => ofType(all, 'board.gone').length >= 1);
  t.like(ofType(gone, 'board.gone')[0], { board: 'default', path: fleet.board, real_path: other, generation: 3 });
  t.true(isLink(fleet.board), 'a dangling link is left as it is');
  t.true(ofType(gone, 'board.fence').length >= 2, 'the holder of the deleted target is fenced');
});

test('a corrupt symlinked board is rebuilt into its real file and the link stays a link', async (t) => {
  const { fleet, real } = await startLinkedFleet(
    t,
    { writer: { grant: true, args: ['--mode', 'tick', '--interval-ms', '1000'] } },
    { prepare: (file) => seed(file, 3000) },
  );
  const before = readIdentity(real)!;
  corruptPages(real, 80, 3);
  const check = await fleet.cli('check', '--json');
  t.is(JSON.parse(check.stdout).integrity[0].status, 'corrupt');
  const events = await fleet.waitForEvent((all) => ofType(all, 'board.rebuilt').length >= 1 && ofType(all, 'wave.done').length >= 1);

  t.like(ofType(events, 'board.rebuilt')[0], { board: 'default', path: fleet.board, real_path: real });
  t.like(ofType(events, 'board.quarantine')[0], { path: fleet.board, real_path: real });
  t.true(isLink(fleet.board), 'the link is still a link');
  t.is(readlinkSync(fleet.board), LINK_TEXT);
  t.not(readIdentity(real)!.ino, before.ino, 'the real file was replaced');
  t.is(integrityCheck(real), 'ok');
  t.true(count(fleet.board, 'SELECT count(*) AS n FROM task_events') >= 2500, 'the readable rows are in the rebuilt file');
  t.deepEqual(readdirSync(path.dirname(real)).filter((name) => name.includes('.rebuild-')), [], 'no rebuild temp left');
  t.deepEqual(readdirSync(path.dirname(fleet.board)).filter((name) => name.startsWith('kanban.db') || name.includes('.rebuild-')), ['kanban.db']);
  t.deepEqual(ofType(events, 'wave.done')[0]!.restarted, ['writer']);
});
