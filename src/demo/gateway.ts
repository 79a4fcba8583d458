import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * A stand-in for `hermes gateway run`, so the embedded default shows a live fleet with no Hermes
 * installed. Like a Hermes gateway it reads the kanban switches from its environment: when granted
 * it opens the board each tick, writes a row and closes it; when denied it never touches the board.
 */
const profile = argument('--profile') ?? path.basename(process.env.HERMES_HOME ?? 'unknown');
const tickMs = Number(argument('--tick-ms') ?? 2000);
const dispatch = process.env.HERMES_KANBAN_DISPATCH_IN_GATEWAY !== '0';
const notify = process.env.HERMES_KANBAN_NOTIFY_IN_GATEWAY !== '0';
const kanbanHome = process.env.HERMES_KANBAN_HOME ?? process.env.HERMES_HOME ?? '.';
const board = process.env.HERMES_KANBAN_DB ?? path.join(kanbanHome, 'kanban.db');

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** Opens the board, creating it and its one table when missing, as `hermes kanban init` would. */
function openBoard(): Database.Database {
  mkdirSync(path.dirname(board), { recursive: true });
  const db = new Database(board, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS demo_ticks (id INTEGER PRIMARY KEY, profile TEXT NOT NULL, pid INTEGER NOT NULL, at TEXT NOT NULL)');
  return db;
}

function tick(count: number): void {
  let db: Database.Database | null = null;
  try {
    db = openBoard();
    const row = db.prepare('INSERT INTO demo_ticks (profile, pid, at) VALUES (?, ?, ?)').run(profile, process.pid, new Date().toISOString());
    if (count % 5 === 1) console.log(`tick ${count}: wrote row ${row.lastInsertRowid} to ${board} (inode ${statSync(board).ino})`);
  } catch (err) {
    console.error(`tick ${count}: ${(err as Error).message}`);
  } finally {
    db?.close();
  }
}

// The demo's kanban.init_command: set the board up and exit.
if (process.argv.includes('--init')) {
  openBoard().close();
  console.log(`initialised ${board}`);
  process.exit(0);
}

process.on('SIGTERM', () => {
  console.log('SIGTERM: shutting down');
  process.exit(0);
});

if (dispatch || notify) {
  console.log(`gateway for profile ${profile}: kanban granted (dispatch=${dispatch ? 1 : 0}, notify=${notify ? 1 : 0}), board ${board}`);
  let count = 0;
  tick(++count);
  setInterval(() => tick(++count), tickMs);
} else {
  console.log(`gateway for profile ${profile}: kanban denied, running without the board (HERMES_KANBAN_HOME=${kanbanHome})`);
  setInterval(() => undefined, 60_000);
}
