import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import test from 'ava';
import { initBoard, integrityCheck } from './helpers/board.js';
import { ofType } from './helpers/events.js';
import { python } from './helpers/fixture.js';
import { brisk, startFleet } from './helpers/fleet.js';
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

const journalMode = (file: string): string => {
  const db = new Database(file, { readonly: true });
  try {
    return String(db.pragma('journal_mode', { simple: true }));
  } finally {
    db.close();
  }
};

test('a DELETE board swapped under a writer mid-transaction: the old hot journal never pairs with the new file', async (t) => {
  const dir = makeFleetDir(t, 'hs-journal-');
  const script = dir.script('mid_transaction.py', MID_TRANSACTION);
  const flag = path.join(dir.root, 'first-run-done');
  const fleet = await startFleet(t, {
    dir,
    board: (board) => initBoard(board, 'delete'),
    config: brisk(),
    profiles: { writer: { grant: true, command: (board) => [python, script, board, flag] } },
  });
  const journal = `${fleet.board}-journal`;
  await fleet.waitForEvent(() => existsSync(journal));

  // The replacement: a fresh DELETE board, renamed over the old one.
  initBoard(`${fleet.board}.new`, 'delete');
  renameSync(`${fleet.board}.new`, fleet.board);

  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1 && ofType(all, 'board.sidecars').length >= 1);
  t.like(ofType(events, 'board.fence')[0], { board: 'default', profiles: ['writer'] });
  const moved = ofType(events, 'board.sidecars').flatMap((event) => event.moved as string[]);
  t.true(moved.some((file) => file.endsWith('.journal')), `the old journal was moved aside: ${moved.join(', ')}`);
  t.like(ofType(events, 'gateway.exit', 'writer')[0], { signal: 'SIGKILL' }, 'a fenced writer is never resumed to finish its transaction');
  t.false(existsSync(journal), 'no journal beside the new file');
  t.is(integrityCheck(fleet.board), 'ok');
  t.is(journalMode(fleet.board), 'delete');
  const db = new Database(fleet.board, { readonly: true });
  try {
    t.is((db.prepare("SELECT count(*) AS n FROM tasks WHERE id LIKE 'old-%'").get() as { n: number }).n, 0, 'none of the old transaction reached the new file');
  } finally {
    db.close();
  }
});
