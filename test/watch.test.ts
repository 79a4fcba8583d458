import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { nearestExistingAncestor } from '../src/board/watch.js';
import { startSupervisor } from './helpers/cli.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { eventsOf, fixture, initBoard, python } from './helpers/swapFleet.js';

test('the nearest existing ancestor of a missing folder', (t) => {
  const fleet = makeFleetDir(t);
  t.is(nearestExistingAncestor(path.join(fleet.root, 'a', 'b', 'c')), fleet.root);
  t.is(nearestExistingAncestor(fleet.hermesHome), fleet.root);
  t.is(nearestExistingAncestor('/'), '/');
});

test('boards under folders that do not exist at start are watched by file events once they appear', async (t) => {
  const fleet = makeFleetDir(t, 'hs-watch-');
  // Two levels missing: the supervisor has to follow the folders down as they are created.
  const hermesHome = path.join(fleet.root, 'later', 'hermes');
  fleet.config({
    hermes_home: hermesHome,
    profiles_dir: path.join(fleet.hermesHome, 'profiles'),
    gateway: { command: [python, fixture, '--mode', 'idle', '--profile', '{profile}'] },
    // A poll this slow never fires during the test: whatever is seen is seen by the watch.
    health: { poll_interval: '5m' },
  });
  fleet.profile('idler', { kanban: { enabled: false } });
  const supervisor = startSupervisor(['--config', fleet.configFile]);
  t.teardown(async () => {
    supervisor.child.kill('SIGTERM');
    await Promise.race([supervisor.exited, sleep(10_000, undefined, { ref: false })]);
    supervisor.child.kill('SIGKILL');
  });
  const waitForEvent = async (predicate: (event: Record<string, unknown>) => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const found = fleet.events().find(predicate);
      if (found) return found;
      await sleep(25);
    }
    throw new Error(`timed out waiting for ${what}; events: ${fleet.events().map((event) => event.type).join(' ')}\n${supervisor.output()}`);
  };
  await waitForEvent((event) => event.type === 'gateway.ready', 'the gateway');

  /** Creates a board where there was none, waits for it to be adopted, then renames a new file over it. */
  const appearThenSwap = async (board: string, slug: string) => {
    mkdirSync(path.dirname(board), { recursive: true });
    initBoard(board);
    await waitForEvent((event) => event.type === 'board.new' && event.board === slug, `board ${slug} to appear`);
    initBoard(`${board}.new`);
    renameSync(`${board}.new`, board);
    return waitForEvent((event) => event.type === 'board.swap' && event.board === slug, `board ${slug} to be swapped`);
  };
  t.is((await appearThenSwap(path.join(hermesHome, 'kanban.db'), 'default')).detected_by, 'watch');
  // kanban/boards/ created after start, under a folder that appeared after start too.
  t.is((await appearThenSwap(path.join(hermesHome, 'kanban', 'boards', 'team', 'kanban.db'), 'team')).detected_by, 'watch');
  t.is(eventsOf(fleet.events(), 'board.swap').length, 2);
});
