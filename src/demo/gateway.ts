import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * A stand-in for `hermes gateway run`, so the embedded default shows a live fleet with no Hermes
 * installed. Like a Hermes gateway it reads the kanban switches from its environment; when denied it
 * never touches the board. When granted it writes a row every tick, either holding one connection for
 * its whole life (`--mode hold`, as a dispatcher or the dashboard does: such a gateway goes on writing
 * into a replaced file until it is fenced) or opening and closing the board each tick (`--mode tick`).
 * Like Hermes, it says it is running in `gateway_state.json` in its home once it is set up.
 */
const profile = argument('--profile') ?? path.basename(process.env.HERMES_HOME ?? 'unknown');
const tickMs = Number(argument('--tick-ms') ?? 2000);
const mode = argument('--mode') ?? 'tick';
const dispatch = process.env.HERMES_KANBAN_DISPATCH_IN_GATEWAY !== '0';
const notify = process.env.HERMES_KANBAN_NOTIFY_IN_GATEWAY !== '0';
const kanbanHome = process.env.HERMES_KANBAN_HOME ?? process.env.HERMES_HOME ?? '.';
const board = process.env.HERMES_KANBAN_DB ?? path.join(kanbanHome, 'kanban.db');

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function openBoard(): { db: Database.Database; inode: number } {
  mkdirSync(path.dirname(board), { recursive: true });
  const db = new Database(board, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS demo_ticks (id INTEGER PRIMARY KEY, profile TEXT NOT NULL, pid INTEGER NOT NULL, at TEXT NOT NULL)');
  return { db, inode: statSync(board).ino };
}

function write(db: Database.Database): number | bigint {
  return db.prepare('INSERT INTO demo_ticks (profile, pid, at) VALUES (?, ?, ?)').run(profile, process.pid, new Date().toISOString()).lastInsertRowid;
}

/** Opens, writes and closes the board every tick. */
function tickLoop(): void {
  let count = 0;
  const tick = () => {
    count += 1;
    let opened: ReturnType<typeof openBoard> | null = null;
    try {
      opened = openBoard();
      const row = write(opened.db);
      if (count % 5 === 1) console.log(`tick ${count}: wrote row ${row} (board inode ${opened.inode})`);
    } catch (err) {
      console.error(`tick ${count}: ${(err as Error).message}`);
    } finally {
      opened?.db.close();
    }
  };
  tick();
  setInterval(tick, tickMs);
}

/** Keeps one connection open and writes through it every tick. */
function holdLoop(): void {
  const { db, inode } = openBoard();
  console.log(`holding the board open (inode ${inode})`);
  let count = 0;
  setInterval(() => {
    count += 1;
    try {
      const row = write(db);
      if (count % 5 === 1) console.log(`tick ${count}: wrote row ${row} (held inode ${inode})`);
    } catch (err) {
      console.error(`tick ${count}: ${(err as Error).message}`);
    }
  }, tickMs);
  process.on('exit', () => db.close());
}

/** Hermes's readiness signal and heartbeat: `gateway_state.json` in HERMES_HOME, replaced whole. */
function publishRunning(): void {
  const home = process.env.HERMES_HOME;
  if (home === undefined) return;
  const file = path.join(home, 'gateway_state.json');
  writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, gateway_state: 'running', updated_at: new Date().toISOString() }));
  renameSync(`${file}.tmp`, file);
}

// The demo's kanban.init_command: set the board up and exit.
if (process.argv.includes('--init')) {
  openBoard().db.close();
  console.log(`initialised ${board}`);
  process.exit(0);
}

process.on('SIGTERM', () => {
  console.log('SIGTERM: shutting down');
  process.exit(0);
});

if (dispatch || notify) {
  console.log(`kanban granted (dispatch=${dispatch ? 1 : 0}, notify=${notify ? 1 : 0}), ${mode} mode, board ${board}`);
  if (mode === 'hold') holdLoop();
  else tickLoop();
} else {
  console.log(`kanban denied: running without the board (HERMES_KANBAN_HOME=${kanbanHome})`);
  setInterval(() => undefined, 60_000);
}
publishRunning();
// Hermes re-stamps `updated_at` about every 60 s; without it the supervisor warns of a stale heartbeat.
setInterval(publishRunning, 60_000);
