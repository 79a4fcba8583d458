import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import test, { type ExecutionContext } from 'ava';
import { initBoard, integrityCheck } from './helpers/board.js';
import { ofType } from './helpers/events.js';
import { python } from './helpers/fixture.js';
import { brisk, startFleet, type Fleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';

// A gateway on a rollback-journal (DELETE) board caught in the middle of a write transaction: its
// first run opens a transaction, writes, and waits with the transaction open, so `kanban.db-journal`
// holds the old file's original pages; every later run only waits.
const MID_TRANSACTION = `
import os, sqlite3, sys, time
board, flag = sys.argv[1], sys.argv[2]
if not os.path.exists(flag):
    open(flag, "w").close()
    db = sqlite3.connect(board, isolation_level=None, timeout=10)
    db.execute("BEGIN IMMEDIATE")
    for i in range(200):
        db.execute("INSERT INTO tasks (id, title, status, created_at) VALUES (?, ?, 'todo', 0)", (f"old-{i}", "x" * 500))
    print("in transaction", flush=True)
while True:
    time.sleep(1)
`;

// A dispatching gateway whose kanban worker is caught in the middle of a write transaction. The
// worker runs in a session of its own and its parent has exited, so it is outside the gateway's tree:
// only the host-wide scan finds it, by Hermes's task mark and the supervisor's state dir mark it
// inherited. The gateway's later runs only wait.
const WORKER_MID_TRANSACTION = `
import os, sqlite3, sys, time
board, flag = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    db = sqlite3.connect(board, isolation_level=None, timeout=10)
    db.execute("BEGIN IMMEDIATE")
    for i in range(200):
        db.execute("INSERT INTO tasks (id, title, status, created_at) VALUES (?, ?, 'todo', 0)", (f"old-{i}", "x" * 500))
    while True:
        time.sleep(1)
if not os.path.exists(flag):
    open(flag, "w").close()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            # Started with the task's environment, as Hermes's dispatcher starts a worker.
            env = dict(os.environ, HERMES_KANBAN_TASK="t-old", HERMES_KANBAN_RUN_ID="1", HERMES_KANBAN_BOARD="default", HERMES_KANBAN_DB=board)
            os.execve(sys.executable, [sys.executable, sys.argv[0], board, flag, "worker"], env)
        os._exit(0)
    os.wait()
while True:
    time.sleep(1)
`;

const journalMode = (file: string): string => {
  const db = new Database(file, { readonly: true });
  try {
    return String(db.pragma('journal_mode', { simple: true }));
  } finally {
    db.close();
  }
};

/**
 * A fleet of one granted profile running `script` on a DELETE board; once the board's journal exists
 * (the transaction is open), the board is replaced by a fresh DELETE board renamed over it.
 */
async function swapMidTransaction(t: ExecutionContext, profile: string, script: string): Promise<Fleet> {
  const dir = makeFleetDir(t, 'hs-journal-');
  const file = dir.script(`${profile}.py`, script);
  const flag = path.join(dir.root, 'first-run-done');
  const fleet = await startFleet(t, {
    dir,
    board: (board) => initBoard(board, 'delete'),
    config: brisk(),
    profiles: { [profile]: { grant: true, command: (board) => [python, file, board, flag] } },
  });
  await fleet.waitForEvent(() => existsSync(`${fleet.board}-journal`));
  initBoard(`${fleet.board}.new`, 'delete');
  renameSync(`${fleet.board}.new`, fleet.board);
  return fleet;
}

/** Rows of the old file's transaction in the new board. */
const oldRows = (board: string): number => {
  const db = new Database(board, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM tasks WHERE id LIKE 'old-%'").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

test('a DELETE board swapped under a writer mid-transaction: the old hot journal never pairs with the new file', async (t) => {
  const fleet = await swapMidTransaction(t, 'writer', MID_TRANSACTION);
  const journal = `${fleet.board}-journal`;
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1 && ofType(all, 'board.sidecars').length >= 1);
  t.like(ofType(events, 'board.fence')[0], { board: 'default', profiles: ['writer'] });
  const moved = ofType(events, 'board.sidecars').flatMap((event) => event.moved as string[]);
  t.true(moved.some((file) => file.endsWith('.journal')), `the old journal was moved aside: ${moved.join(', ')}`);
  t.like(ofType(events, 'gateway.exit', 'writer')[0], { signal: 'SIGKILL' }, 'a fenced writer is never resumed to finish its transaction');
  t.false(existsSync(journal), 'no journal beside the new file');
  t.is(integrityCheck(fleet.board), 'ok');
  t.is(journalMode(fleet.board), 'delete');
  t.is(oldRows(fleet.board), 0, 'none of the old transaction reached the new file');
});

test('a DELETE board swapped under a kanban worker mid-transaction: the worker is ended and its journal moved aside', async (t) => {
  const fleet = await swapMidTransaction(t, 'dispatcher', WORKER_MID_TRANSACTION);
  const journal = `${fleet.board}-journal`;
  const events = await fleet.waitForEvent((all) => ofType(all, 'board.worker_stop').length >= 1 && ofType(all, 'board.sidecars').length >= 1);
  const fence = ofType(events, 'board.fence')[0]!;
  t.like(fence.workers, [{ task: 't-old', run_id: '1' }], 'the host scan found the worker and froze it with the fence');
  t.like(ofType(events, 'board.worker_stop')[0], { board: 'default', task: 't-old' });
  t.deepEqual(fence.profiles, [], 'its gateway is left alone: a worker outlives it by design');
  t.is(ofType(events, 'gateway.spawn', 'dispatcher').length, 1);
  const moved = ofType(events, 'board.sidecars').flatMap((event) => event.moved as string[]);
  t.true(moved.some((file) => file.endsWith('.journal')), `the worker's journal was moved aside: ${moved.join(', ')}`);
  t.false(existsSync(journal), 'no journal beside the new file');
  t.is(integrityCheck(fleet.board), 'ok');
  t.is(oldRows(fleet.board), 0, 'none of the old transaction reached the new file');
});
