import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { parse, stringify } from 'yaml';
import { errorsOf, writesOf } from './helpers/gatewayLog.js';
import { readIdentity } from '../src/board/index.js';
import { backupBoard, initBoard, integrityCheck, swaps } from './helpers/board.js';
import { ofType, type Events } from './helpers/events.js';
import { fixture, python } from './helpers/fixture.js';
import { brisk, startFleet, type Fleet, type ProfileSpec } from './helpers/fleet.js';
import { poll } from './helpers/wait.js';

const profiles = {
  h1: { mode: 'hold', grant: true },
  h2: { mode: 'hold', grant: true },
  tick: { mode: 'tick', grant: true },
  quiet: { mode: 'idle', grant: true },
  denied: { mode: 'idle', grant: false },
} as const;

/** A later wave has no event that marks its absence: this is how long a test gives one to show. */
const quietWindowMs = 1500;

type SwapProfile = Pick<ProfileSpec, 'command'> & { mode: 'hold' | 'tick' | 'idle'; grant: boolean };

/** A supervisor over Hermes-like gateways on one shared board, every gateway ready. */
function startSwapFleet(t: ExecutionContext, swapProfiles: Record<string, SwapProfile>, settings: { restart?: object; health?: object } = {}): Promise<Fleet> {
  const specs = Object.fromEntries(Object.entries(swapProfiles).map(([name, spec]) => [name, { ...spec, intervalMs: spec.mode === 'tick' ? 1000 : 100 }]));
  return startFleet(t, { prefix: 'hs-swap-', board: true, profiles: specs, config: brisk(settings) });
}

const spawnPid = (events: Events, profile: string) =>
  ofType(events, 'gateway.spawn').filter((event) => event.profile === profile).map((event) => event.pid as number);

/** Everything a swap must leave true, checked against the event log, the gateways' write logs and the file. */
async function assertSwapHandled(t: ExecutionContext, fleet: Fleet, swappedAt: number, oldIno: number) {
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1);
  const swap = ofType(events, 'board.swap')[0]!;
  const newIno = readIdentity(fleet.board)!.ino;
  t.like(swap, { board: 'default', generation: 2, path: fleet.board });
  t.is((swap.old as { ino: number }).ino, oldIno);
  t.is((swap.new as { ino: number }).ino, newIno);
  t.true(swap.detected_by === 'watch' || swap.detected_by === 'poll');

  const fence = ofType(events, 'board.fence')[0]!;
  const fenced = fence.profiles as string[];
  t.true(fenced.includes('h1') && fenced.includes('h2'), `hold-mode holders fenced: ${fenced.join(',')}`);
  t.false(fenced.includes('quiet'));
  t.false(fenced.includes('denied'));

  const done = ofType(events, 'wave.done')[0]!;
  t.deepEqual([...(done.restarted as string[])].sort(), [...fenced].sort());
  t.deepEqual(done.failed, []);
  for (const profile of ['quiet', 'denied', ...(fenced.includes('tick') ? [] : ['tick'])]) {
    t.is(spawnPid(events, profile).length, 1, `${profile} kept its pid`);
  }
  for (const profile of fenced) t.is(spawnPid(events, profile).length, 2, `${profile} restarted once`);

  // The restarted holders write into the new file, and nobody on it sees an I/O or corruption error:
  // a few writes each on the new file, so an error there has had its chance to show.
  await fleet.waitForEvent(() =>
    ['h1', 'h2'].every((profile) => writesOf(fleet.log(profile)).filter((write) => write.ino === newIno && write.pid === spawnPid(fleet.events(), profile)[1]).length >= 3),
  );
  for (const profile of Object.keys(profiles)) {
    const bad = errorsOf(fleet.log(profile)).filter((error) => error.ino === newIno && /disk I\/O|malformed|not a database/i.test(error.error));
    t.deepEqual(bad, [], `${profile} saw no I/O or corruption error on the new file`);
  }
  // ext4 may give the new file the old inode number once nobody holds the old one, so a late write is
  // one by a process that was running before the swap, into the inode it held.
  const before = new Set(ofType(events, 'gateway.spawn').filter((event) => (event.ts_ms as number) < swappedAt).map((event) => event.pid));
  const lateOld = ['h1', 'h2', 'tick']
    .flatMap((profile) => writesOf(fleet.log(profile)))
    .filter((write) => before.has(write.pid) && write.ino === oldIno && write.ts_ms > swappedAt);
  t.log(`writes acknowledged into the old inode after the swap: ${lateOld.length}`, lateOld.map((w) => `${w.profile}@+${(w.ts_ms - swappedAt).toFixed(0)}`).join(' '));
  t.log(events.filter((e) => (e.ts_ms as number) >= swappedAt - 5).map((e) => `${e.type}${e.profile ? `(${e.profile})` : ''}@+${((e.ts_ms as number) - swappedAt).toFixed(0)}`).join(' '));
  t.log(`swap -> fence: ${((fence.ts_ms as number) - swappedAt).toFixed(1)} ms (${swap.detected_by})`);
  t.true(lateOld.length <= 10, `few late writes into the old inode: ${lateOld.length}`);
  t.is(integrityCheck(fleet.board), 'ok');
  return { events, fenced };
}

test.serial('rm + recreate: stale holders are fenced and restarted onto the new file', async (t) => {
  const fleet = await startSwapFleet(t, profiles);
  const oldIno = readIdentity(fleet.board)!.ino;
  const at = swaps.rmRecreate(fleet.board);
  await assertSwapHandled(t, fleet, at, oldIno);
});

test.serial('rename over: old sidecars are moved to quarantine, holders restarted', async (t) => {
  const fleet = await startSwapFleet(t, profiles);
  const oldIno = readIdentity(fleet.board)!.ino;
  const oldWal = readIdentity(`${fleet.board}-wal`);
  t.truthy(oldWal, 'holders keep a WAL');
  const at = swaps.renameOver(fleet.board);
  const { events } = await assertSwapHandled(t, fleet, at, oldIno);
  const moved = ofType(events, 'board.sidecars')[0];
  t.truthy(moved, 'old sidecars moved');
  t.true((moved!.moved as string[]).every((file) => file.startsWith(path.join(fleet.stateDir, 'quarantine', 'default'))));
  t.true((moved!.moved as string[]).some((file) => readIdentity(file)?.ino === oldWal!.ino), 'the old WAL itself is kept in quarantine');
});

test.serial('restore from a backup by rename', async (t) => {
  const fleet = await startSwapFleet(t, profiles);
  const backup = path.join(fleet.root, 'kanban.db.backup');
  await backupBoard(fleet.board, backup);
  const oldIno = readIdentity(fleet.board)!.ino;
  const at = swaps.restore(fleet.board, backup);
  await assertSwapHandled(t, fleet, at, oldIno);
});

test.serial('two swaps in a row make one wave', async (t) => {
  const fleet = await startSwapFleet(t, { h1: profiles.h1, h2: profiles.h2 }, { restart: { debounce: '300ms' } });
  // Both new files are made first: making the second between the renames (a python start) could
  // outlast the first wave on a loaded host. The second lands as soon as the first is seen.
  for (const next of ['1', '2']) initBoard(`${fleet.board}.${next}`);
  renameSync(`${fleet.board}.1`, fleet.board);
  await fleet.waitForEvent((all) => ofType(all, 'board.swap').length >= 1);
  renameSync(`${fleet.board}.2`, fleet.board);
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1 && ofType(all, 'board.swap').length >= 2);
  await sleep(quietWindowMs);
  const after = fleet.events();
  t.is(ofType(after, 'board.swap').length, 2);
  t.is(ofType(after, 'board.swap')[1]!.generation, 3);
  t.is(ofType(after, 'wave.start').length, 1, 'one wave');
  t.deepEqual([...(ofType(events, 'wave.done')[0]!.restarted as string[])].sort(), ['h1', 'h2']);
  // Fenced gateways start at once, so one already back on the first new file when the second swap
  // comes is fenced again, and restarted again in the same wave; one the second fence finds still
  // stopping comes back once. Never more restarts than fences naming it, and at least one.
  for (const profile of ['h1', 'h2']) {
    const fences = ofType(after, 'board.fence').filter((event) => (event.profiles as string[]).includes(profile)).length;
    const restarts = spawnPid(after, profile).length - 1;
    t.true(restarts >= 1 && restarts <= fences, `${profile}: ${restarts} restarts for ${fences} fences`);
  }
  t.is(integrityCheck(fleet.board), 'ok');
});

test.serial('a swap in the middle of a wave re-plans it instead of starting a second wave', async (t) => {
  // The fenced holders come back together; the healthy granted ones follow one at a time, so the
  // wave is still running while the first of them restarts (each healthy one takes 3 s to say it is
  // running, a window a loaded host cannot miss).
  const slowQuiet = { ...profiles.quiet, args: ['--startup-delay-ms', '3000'] };
  const fleet = await startSwapFleet(
    t,
    { h1: profiles.h1, h2: profiles.h2, h3: { mode: 'hold', grant: true }, q1: slowQuiet, q2: slowQuiet },
    { restart: { max_parallel: 1, ready_after: '1s', debounce: '50ms', on_swap: 'granted' } },
  );
  const before = fleet.events().length;
  swaps.renameOver(fleet.board);
  await fleet.waitForEvent((all) => ofType(all.slice(before), 'gateway.spawn', 'q1').length >= 1);
  const newest = () => readIdentity(fleet.board)!.ino;
  swaps.renameOver(fleet.board);
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1);
  await sleep(quietWindowMs);
  const after = fleet.events();
  t.true(ofType(after, 'wave.replan').length >= 1, 're-planned');
  t.is(ofType(after, 'wave.start').length, 1, 'no second wave');
  t.deepEqual(ofType(events, 'wave.done')[0]!.failed, []);
  // Every holder ends on the newest file, and no profile ever ran two gateways at once.
  await fleet.waitForEvent(() => ['h1', 'h2', 'h3'].every((profile) => writesOf(fleet.log(profile)).at(-1)?.ino === newest()));
  for (const profile of ['h1', 'h2', 'h3']) {
    const timeline = after.filter((event) => event.profile === profile && (event.type === 'gateway.spawn' || event.type === 'gateway.exit'));
    timeline.forEach((event, index) => t.is(event.type, index % 2 === 0 ? 'gateway.spawn' : 'gateway.exit', `${profile}: spawn and exit alternate`));
  }
  t.is(integrityCheck(fleet.board), 'ok');
});

test.serial('a denied profile holding the shared board is a policy violation', async (t) => {
  const fleet = await startSwapFleet(t, {
    rogue: {
      mode: 'hold',
      grant: false,
      // A gateway that ignores its grant and opens the shared board anyway.
      command: (board) => [python, '-c', 'import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1])\nc.execute("select count(*) from tasks").fetchall()\ntime.sleep(600)', board],
    },
    fine: { mode: 'hold', grant: true },
  });
  const events = await fleet.waitForEvent((all) => ofType(all, 'policy.violation').length >= 1);
  const violations = ofType(events, 'policy.violation');
  t.true(violations.every((event) => event.profile === 'rogue'));
  t.like(violations[0], { profile: 'rogue', board: 'default' });
  await sleep(1000);
  t.is(ofType(fleet.events(), 'policy.violation').length, violations.length, 'reported once, not every poll');

  const check = await fleet.cli('check');
  t.is(check.code, 1);
  const rows = check.stdout.split('\n').filter((line) => /│ (rogue|fine)\s/.test(line));
  t.true(rows.some((line) => line.includes('rogue') && line.includes('POLICY VIOLATION')), check.stdout);
  t.false(rows.some((line) => line.includes('fine') && line.includes('POLICY VIOLATION')), check.stdout);
});

test.serial('poll only: a swap is still found, by the stat poll', async (t) => {
  const fleet = await startSwapFleet(t, { h1: profiles.h1 }, { health: { watch: false, poll_interval: '100ms' } });
  swaps.renameOver(fleet.board);
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1);
  t.like(ofType(events, 'board.swap')[0], { detected_by: 'poll', generation: 2 });
  t.deepEqual(ofType(events, 'wave.done')[0]!.restarted, ['h1']);
});

test.serial('a board deleted for good is reported gone; a new board is found and watched', async (t) => {
  // A holder that never re-creates the board (Hermes-like gateways would create it again on their next tick).
  const reader = (board: string) => [python, '-c', 'import sqlite3, sys, time\nc = sqlite3.connect("file:" + sys.argv[1] + "?mode=rw", uri=True)\nc.execute("select count(*) from tasks").fetchall()\ntime.sleep(600)', board];
  const fleet = await startSwapFleet(t, { h1: { mode: 'hold', grant: true, command: reader }, quiet: profiles.quiet });
  for (const suffix of ['', '-wal', '-shm']) rmSync(fleet.board + suffix, { force: true });
  const gone = await fleet.waitForEvent((all) => ofType(all, 'board.gone').length >= 1);
  t.like(ofType(gone, 'board.gone')[0], { board: 'default', generation: 2 });
  t.deepEqual(ofType(gone, 'board.fence')[0]!.profiles, ['h1'], 'the holder of the deleted file is fenced');
  t.is(ofType(gone, 'board.swap').length, 0);

  const ops = path.join(fleet.hermesHome, 'kanban', 'boards', 'ops', 'kanban.db');
  initBoard(ops);
  const found = await fleet.waitForEvent((all) => ofType(all, 'board.new').some((event) => event.board === 'ops'));
  const opsNew = ofType(found, 'board.new').find((event) => event.board === 'ops')!;
  t.is((opsNew.new as { ino: number }).ino, readIdentity(ops)!.ino);
  // Probed as it appears, not first at the next integrity_interval (10 minutes away).
  const health = await poll(async () => {
    const status = JSON.parse((await fleet.cli('status', '--json')).stdout) as { boards: Array<{ slug: string; health: string }> };
    return status.boards.find((board) => board.slug === 'ops')?.health;
  }, (value) => value === 'ok');
  t.is(health, 'ok');
  swaps.renameOver(ops);
  const swapped = await fleet.waitForEvent((all) => ofType(all, 'board.swap').some((event) => event.board === 'ops'));
  t.like(ofType(swapped, 'board.swap').find((event) => event.board === 'ops'), { generation: 2, path: ops });
});

test.serial('a board a reload adds in a new folder is watched by file events, not left to the poll', async (t) => {
  // A poll too slow to matter: only a file event can report the swap within the test.
  const fleet = await startSwapFleet(t, { h1: profiles.h1 }, { health: { poll_interval: '5m' } });
  const ops = path.join(fleet.root, 'elsewhere', 'kanban.db');
  initBoard(ops);
  const config = parse(readFileSync(fleet.configFile, 'utf8')) as Record<string, unknown>;
  config.kanban = { boards: [{ slug: 'default', path: fleet.board }, { slug: 'ops', path: ops }] };
  writeFileSync(fleet.configFile, stringify(config));
  const reload = await fleet.cli('reload');
  t.is(reload.code, 0, reload.stderr);
  await fleet.waitForEvent((all) => ofType(all, 'board.new').some((event) => event.board === 'ops'));

  swaps.renameOver(ops);
  const swapped = await fleet.waitForEvent((all) => ofType(all, 'board.swap').some((event) => event.board === 'ops'));
  t.like(ofType(swapped, 'board.swap').find((event) => event.board === 'ops'), { generation: 2, path: ops, detected_by: 'watch' });
});

test.serial('on_swap: granted restarts every granted gateway, never a denied one', async (t) => {
  const fleet = await startSwapFleet(t, { h1: profiles.h1, quiet: profiles.quiet, denied: profiles.denied }, { restart: { on_swap: 'granted' } });
  swaps.renameOver(fleet.board);
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1);
  t.deepEqual(ofType(events, 'board.fence')[0]!.profiles, ['h1']);
  t.deepEqual([...(ofType(events, 'wave.done')[0]!.restarted as string[])].sort(), ['h1', 'quiet']);
  t.is(spawnPid(events, 'denied').length, 1);
});

test.serial('fenced gateways come back together: with max_parallel: 1 every one is spawned before the first is ready', async (t) => {
  const hold = { mode: 'hold', grant: true } as const;
  const fleet = await startSwapFleet(t, { h1: hold, h2: hold, h3: hold, h4: hold }, { restart: { max_parallel: 1 } });
  const before = fleet.events().length;
  swaps.renameOver(fleet.board);
  const events = (await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1)).slice(before);
  const fenced = [...(ofType(events, 'board.fence')[0]!.profiles as string[])].sort();
  t.deepEqual(fenced, ['h1', 'h2', 'h3', 'h4']);
  const index = (event: Record<string, unknown>) => events.indexOf(event);
  const spawns = ofType(events, 'gateway.spawn');
  t.deepEqual(spawns.map((event) => event.profile as string).sort(), fenced, 'each fenced gateway spawned once');
  const firstReady = index(ofType(events, 'gateway.ready')[0]!);
  t.true(spawns.every((spawn) => index(spawn) < firstReady), events.map((event) => `${event.type}${event.profile ? `(${event.profile})` : ''}`).join(' '));
  t.like(ofType(events, 'wave.start')[0], { max_parallel: 1, fenced_parallel: 32 });
  t.deepEqual([...(ofType(events, 'wave.start')[0]!.fenced as string[])].sort(), fenced);
  t.deepEqual([...(ofType(events, 'wave.done')[0]!.restarted as string[])].sort(), fenced);
});

test.serial('a rollback-journal board written all the time and replaced is seen by file events, every time', async (t) => {
  // The file itself changes at every commit, and a re-created file is a new entry of the folder: both
  // come faster than chokidar passes them on (a path's change at most every 50 ms, a folder's re-read at most every second).
  const journal = ['--journal', 'delete'];
  const writer = { mode: 'hold', grant: true, intervalMs: 5, args: journal } as const;
  const fleet = await startFleet(t, {
    prefix: 'hs-swap-',
    board: (board) => initBoard(board, 'delete'),
    profiles: { w1: writer, w2: writer },
    // The poll would find a missed swap only a minute later, as `poll`: every swap here must be the watch's.
    config: brisk({ health: { poll_interval: '60s' }, kanban: { init_command: [python, fixture, '--mode', 'init', ...journal] } }),
  });
  await fleet.waitForEvent((all) => ofType(all, 'gateway.ready').length >= 2);
  const rounds = 8;
  const writingOn = (ino: number, count: number) => ['w1', 'w2'].every((profile) => writesOf(fleet.log(profile)).filter((write) => write.ino === ino).length >= count);
  for (let round = 1; round <= rounds; round++) {
    const next = `${fleet.board}.next`;
    if (round % 2 === 1) initBoard(next, 'delete');
    // Both gateways are writing the board when it is replaced: renamed over, or removed and re-created.
    await poll(() => writingOn(readIdentity(fleet.board)!.ino, 10), Boolean);
    if (round % 2 === 1) renameSync(next, fleet.board);
    else {
      rmSync(fleet.board);
      initBoard(fleet.board, 'delete');
    }
    // SQLite refuses a write to a file renamed away (readonly, "database moved"), so a writer may reopen
    // the new file by itself before any fence: the round ends once both write to the new file.
    // The staged init of the new file is done before the next swap, so no job of the supervisor's is
    // looking at the board when it lands.
    await fleet.waitForEvent((all) => ofType(all, 'board.swap').length >= round && ofType(all, 'board.init').filter((event) => event.reason === 'swap').length >= round);
    await poll(() => writingOn(readIdentity(fleet.board)!.ino, 3), Boolean);
  }
  const detected = ofType(fleet.events(), 'board.swap').map((event) => event.detected_by);
  t.deepEqual(detected, Array.from({ length: rounds }, () => 'watch'));
  t.is(integrityCheck(fleet.board), 'ok');
});
