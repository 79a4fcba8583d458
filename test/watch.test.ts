import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { nearestExistingAncestor } from '../src/board/watch.js';
import { initBoard } from './helpers/board.js';
import { ofType } from './helpers/events.js';
import { fixture, python } from './helpers/fixture.js';
import { startFleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { until } from './helpers/wait.js';

test('the nearest existing ancestor of a missing folder', (t) => {
  const fleet = makeFleetDir(t);
  t.is(nearestExistingAncestor(path.join(fleet.root, 'a', 'b', 'c')), fleet.root);
  t.is(nearestExistingAncestor(fleet.hermesHome), fleet.root);
  t.is(nearestExistingAncestor('/'), '/');
});

test('boards under folders that do not exist at start are watched by file events once they appear', async (t) => {
  const dir = makeFleetDir(t, 'hs-watch-');
  // Two levels missing: the supervisor has to follow the folders down as they are created.
  const hermesHome = path.join(dir.root, 'later', 'hermes');
  // No profiles: they would live under the missing hermes_home too (Hermes finds them only there).
  const fleet = await startFleet(t, {
    dir,
    gateway: [python, fixture, '--mode', 'idle', '--profile', '{profile}'],
    config: {
      hermes_home: hermesHome,
      // A poll this slow never fires during the test: whatever is seen is seen by the watch.
      health: { poll_interval: '5m' },
    },
    profiles: {},
    ready: false,
  });
  // check answers once the start is past its boards, and so the watch is up.
  await until('the start to finish', async () => (await fleet.cli('check')).code === 0);
  const waitForEvent = async (predicate: (event: Record<string, unknown>) => boolean) =>
    (await fleet.waitForEvent((events) => events.some(predicate))).find(predicate)!;

  /** Creates a board where there was none, waits for it to be adopted, then renames a new file over it. */
  const appearThenSwap = async (board: string, slug: string) => {
    mkdirSync(path.dirname(board), { recursive: true });
    initBoard(board);
    await waitForEvent((event) => event.type === 'board.new' && event.board === slug);
    // A new board is probed at once, and the probe's own look would find a swap made meanwhile.
    await until(`${slug} probed`, async () => {
      const status = JSON.parse((await fleet.cli('status', '--json')).stdout) as { boards: Array<{ slug: string; health: string }> };
      return status.boards.find((entry) => entry.slug === slug)?.health === 'ok';
    });
    initBoard(`${board}.new`);
    renameSync(`${board}.new`, board);
    return waitForEvent((event) => event.type === 'board.swap' && event.board === slug);
  };
  t.is((await appearThenSwap(path.join(hermesHome, 'kanban.db'), 'default')).detected_by, 'watch');
  // kanban/boards/ created after start, under a folder that appeared after start too.
  t.is((await appearThenSwap(path.join(hermesHome, 'kanban', 'boards', 'team', 'kanban.db'), 'team')).detected_by, 'watch');
  t.is(ofType(fleet.events(), 'board.swap').length, 2);
});
