import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { fixture } from './helpers/fixture.js';
import { fixturesDir } from './helpers/paths.js';
import { openFiles, processEnv } from './helpers/proc.js';
import { tempDir } from './helpers/tempDir.js';
import { poll, within } from './helpers/wait.js';
import {
  errorsOf,
  generationsOf,
  identityKey,
  parseGatewayLog,
  readGatewayLog,
  waitForGatewayLog,
  writesOf,
  type GatewayEvent,
  type StartEvent,
} from './helpers/gatewayLog.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Gateway {
  child: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
  /** The process ended and all its output has been read. */
  closed: Promise<void>;
  output: () => string;
}

/** The test runner's env without any HERMES_* variable, so only what a test sets applies. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('HERMES_')) env[key] = value;
  }
  return { ...env, ...extra };
}

function startGateway(t: ExecutionContext, args: string[], env: Record<string, string> = {}): Gateway {
  const child = spawn('python3', [fixture, ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // 'exit' can come before the last of the output has been read; 'close' comes after it.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  if (child.pid === undefined) throw new Error('python3 could not be spawned');
  return { child, pid: child.pid, exited, closed, output: () => out };
}

async function runGateway(
  t: ExecutionContext,
  args: string[],
  env: Record<string, string> = {},
): Promise<Exit & { output: string }> {
  const gw = startGateway(t, args, env);
  const exit = await within(gw.exited, 'gateway exit');
  await within(gw.closed, 'gateway output');
  return { ...exit, output: gw.output() };
}

/** `dev:ino` of every file the process has open, read by stat() through /proc/<pid>/fd. */
function openIdentities(pid: number): Set<string> {
  const keys = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return keys;
  }
  for (const fd of fds) {
    try {
      const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
      keys.add(`${st.dev}:${st.ino}`);
    } catch {
      // The fd closed between listing and stat.
    }
  }
  return keys;
}

function identityOf(file: string): string {
  const st = fs.statSync(file);
  return `${st.dev}:${st.ino}`;
}

function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

const waitGone = (pid: number): Promise<boolean> => poll(() => isGone(pid), Boolean);

/** Stdout reaches us through a pipe, after the log line the test waited for: poll for it. */
const waitForOutput = async (gw: Gateway, pattern: RegExp): Promise<boolean> => pattern.test(await poll(gw.output, (out) => pattern.test(out)));

/** Samples whether `pid` holds `identity` `samples` times, `everyMs` apart. */
async function sampleHolding(pid: number, identity: string, samples: number, everyMs: number): Promise<boolean[]> {
  const seen: boolean[] = [];
  for (let i = 0; i < samples; i++) {
    seen.push(openIdentities(pid).has(identity));
    await sleep(everyMs);
  }
  return seen;
}

function startOf(events: GatewayEvent[], pid: number): StartEvent | undefined {
  return events.find((e): e is StartEvent => e.event === 'start' && e.pid === pid);
}

function columnsOf(db: Database.Database, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
}

function createUnmigratedBoard(t: ExecutionContext, db: string): Promise<Exit & { output: string }> {
  return runGateway(t, ['--mode', 'tick', '--ticks', '1', '--db', db]);
}

test.serial('migrate: seven gateways starting at once on an unmigrated board hit duplicate column name', async (t) => {
  const root = tempDir(t);
  const ticks = 3;
  // Like a host restarting its whole fleet at once: every gateway waits for the same moment, so
  // spawn jitter on a loaded machine cannot spread the starts wider than the race window. Should
  // the machine be too slow to start all seven before that moment, it is tried again, further ahead.
  const race = async (leadMs: number) => {
    const dir = path.join(root, `lead-${leadMs}`);
    fs.mkdirSync(dir);
    const db = path.join(dir, 'kanban.db');
    const log = path.join(dir, 'gateways.jsonl');
    t.is((await createUnmigratedBoard(t, db)).code, 0);
    const before = new Database(db, { readonly: true });
    t.false(columnsOf(before, 'tasks').includes('consecutive_failures'));
    before.close();
    const startAt = Date.now() + leadMs;
    const gateways = Array.from({ length: 7 }, (_, i) =>
      startGateway(t, [
        '--mode', 'migrate', '--db', db, '--log', log, '--profile', `p${i}`, '--start-at-ms', String(startAt),
        '--ticks', String(ticks), '--interval-ms', '100', '--migrate-delay-ms', '300',
      ]),
    );
    const exits = await within(Promise.all(gateways.map((g) => g.exited)), 'all migrate gateways exit');
    const allWaited = readGatewayLog(log).filter((e) => e.event === 'start').every((e) => e.ts_ms < startAt);
    return { db, log, gateways, exits, allWaited };
  };
  let leadMs = 2000;
  let run = await race(leadMs);
  while (!run.allWaited && leadMs < 30_000) run = await race((leadMs *= 2));
  const { db, log, gateways, exits } = run;
  t.deepEqual(exits.map((e) => e.code), gateways.map(() => 0));

  const events = readGatewayLog(log);
  const duplicates = errorsOf(events).filter((e) => /duplicate column name/.test(e.error));
  t.true(duplicates.length >= 1, 'at least one gateway lost the migration race');
  for (const dup of duplicates) {
    t.is(dup.stage, 'migrate');
    const writes = writesOf(events).filter((w) => w.pid === dup.pid);
    t.true(writes.length >= 1, 'the loser carries on ticking');
    t.true(writes.length < ticks, "the loser's first tick is lost");
    t.true(writes.every((w) => w.ts_ms >= dup.ts_ms));
  }
  const after = new Database(db, { readonly: true });
  t.true(columnsOf(after, 'tasks').includes('consecutive_failures'));
  t.true(columnsOf(after, 'tasks').includes('last_failure_at'));
  after.close();
});

test('hold: one connection held throughout, every acknowledged write logged with its row and inode', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'hold', '--db', db, '--log', log, '--interval-ms', '50', '--profile', 'alpha']);
  const events = await waitForGatewayLog(log, (ev) => writesOf(ev).length >= 5);
  const identity = identityOf(db);
  const writes = writesOf(events);
  for (const w of writes) {
    t.is(identityKey(w), identity);
    t.is(w.pid, gw.pid);
    t.is(w.profile, 'alpha');
    t.is(w.mode, 'hold');
  }
  t.deepEqual(writes.map((w) => w.rowid), [...writes.map((w) => w.rowid)].sort((a, b) => a - b));
  t.true((await sampleHolding(gw.pid, identity, 8, 30)).every(Boolean), 'the board stays open between ticks');
  t.true(await waitForOutput(gw, /started pid=\d+ mode=hold/));

  gw.child.kill('SIGTERM');
  t.is((await within(gw.exited, 'exit after SIGTERM')).code, 0);
  const logged = writesOf(readGatewayLog(log)).map((w) => w.rowid);
  const board = new Database(db, { readonly: true });
  const rows = new Set((board.prepare('SELECT id FROM task_events').all() as Array<{ id: number }>).map((r) => r.id));
  board.close();
  t.true(logged.every((rowid) => rows.has(rowid)), 'every logged write is in the board');
});

test('tick: the board is opened and closed on every tick, so a replaced file is picked up', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'tick', '--db', db, '--log', log, '--interval-ms', '150']);
  await waitForGatewayLog(log, (ev) => writesOf(ev).length >= 2);
  const oldIdentity = identityOf(db);
  const held = await sampleHolding(gw.pid, oldIdentity, 12, 25);
  t.true(held.some((h) => !h), 'between ticks the gateway holds no handle on the board');

  // Moved aside rather than deleted: the old inode lives on, so the new file cannot reuse its number.
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(db + suffix)) fs.renameSync(db + suffix, `${db}${suffix}.old`);
  }
  const events = await waitForGatewayLog(log, (ev) => writesOf(ev).some((w) => identityKey(w) !== oldIdentity));
  const newIdentity = identityOf(db);
  t.not(newIdentity, oldIdentity);
  const switched = writesOf(events).findIndex((w) => identityKey(w) !== oldIdentity);
  t.true(writesOf(events).slice(switched).every((w) => identityKey(w) === newIdentity));
  t.true(writesOf(events).every((w) => w.mode === 'tick'));
});

test('hold: after rm + recreate of the board, the holder keeps writing into the old inode', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'hold', '--db', db, '--log', log, '--interval-ms', '50']);
  await waitForGatewayLog(log, (ev) => writesOf(ev).length >= 2);
  const oldIdentity = identityOf(db);

  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(db + suffix, { force: true });
  const fresh = new Database(db);
  fresh.pragma('journal_mode = WAL');
  fresh.exec('CREATE TABLE restored (x INTEGER)');
  fresh.close();
  const newIdentity = identityOf(db);
  t.not(newIdentity, oldIdentity);

  const swappedAt = Date.now();
  const events = await waitForGatewayLog(log, (ev) => writesOf(ev).filter((w) => w.ts_ms > swappedAt).length >= 3);
  const late = writesOf(events).filter((w) => w.ts_ms > swappedAt);
  t.true(late.every((w) => identityKey(w) === oldIdentity), 'acknowledged writes land in the deleted file');
  t.true(openIdentities(gw.pid).has(oldIdentity), 'the gateway still holds the old inode');
  t.false(openIdentities(gw.pid).has(newIdentity));
  const board = new Database(db, { readonly: true });
  const tables = (board.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
  board.close();
  t.deepEqual(tables, ['restored'], 'none of those writes reached the board at the path');
});

test('denied: with both gateway switches off the board is never created or opened', async (t) => {
  const dir = tempDir(t);
  const root = path.join(dir, 'kanban-home');
  fs.mkdirSync(root);
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'hold', '--log', log, '--interval-ms', '20'], {
    HERMES_HOME: path.join(dir, 'profiles', 'writer'),
    HERMES_KANBAN_HOME: root,
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0',
    HERMES_KANBAN_NOTIFY_IN_GATEWAY: '0',
  });
  const events = await waitForGatewayLog(log, (ev) => ev.some((e) => e.event === 'denied'));
  const board = path.join(root, 'kanban.db');
  t.is(startOf(events, gw.pid)?.db, board);
  t.is(startOf(events, gw.pid)?.profile, 'writer');
  for (let i = 0; i < 10; i++) {
    t.false(openFiles(gw.pid).some((link) => link.startsWith(root)), 'no fd under the board root');
    await sleep(20);
  }
  t.false(fs.existsSync(board));
  t.deepEqual(fs.readdirSync(root), []);

  gw.child.kill('SIGTERM');
  t.is((await within(gw.exited, 'exit after SIGTERM')).code, 0);
  const all = readGatewayLog(log);
  t.is(all.filter((e) => e.event === 'denied').length, 1);
  t.is(writesOf(all).length, 0);
});

test('grant: one switch on is enough to reach the board', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'gw.jsonl');
  const exit = await runGateway(t, ['--mode', 'tick', '--ticks', '1', '--log', log], {
    HERMES_KANBAN_HOME: dir,
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0',
  });
  t.is(exit.code, 0);
  t.is(writesOf(readGatewayLog(log)).length, 1);
  t.true(fs.existsSync(path.join(dir, 'kanban.db')));
});

test('board path: --db, HERMES_KANBAN_DB, HERMES_KANBAN_BOARD, HERMES_KANBAN_HOME and HERMES_HOME resolve like Hermes', async (t) => {
  const dir = tempDir(t);
  const shared = path.join(dir, 'shared');
  const home = path.join(dir, 'home');
  const cases: Array<{ args: string[]; env: Record<string, string>; expected: string }> = [
    { args: [], env: { HERMES_KANBAN_HOME: shared, HERMES_HOME: home }, expected: path.join(shared, 'kanban.db') },
    { args: [], env: { HERMES_HOME: home }, expected: path.join(home, 'kanban.db') },
    {
      args: [],
      env: { HERMES_KANBAN_HOME: shared, HERMES_KANBAN_BOARD: 'ops' },
      expected: path.join(shared, 'kanban', 'boards', 'ops', 'kanban.db'),
    },
    { args: [], env: { HERMES_HOME: home, HERMES_KANBAN_BOARD: 'default' }, expected: path.join(home, 'kanban.db') },
    {
      args: [],
      env: { HERMES_KANBAN_HOME: shared, HERMES_KANBAN_DB: path.join(dir, 'pinned', 'k.db') },
      expected: path.join(dir, 'pinned', 'k.db'),
    },
    {
      args: ['--db', path.join(dir, 'arg.db')],
      env: { HERMES_KANBAN_DB: path.join(dir, 'pinned', 'k.db') },
      expected: path.join(dir, 'arg.db'),
    },
  ];
  for (const [i, c] of cases.entries()) {
    const log = path.join(dir, `init-${i}.jsonl`);
    const exit = await runGateway(t, ['--mode', 'init', '--log', log, ...c.args], c.env);
    t.is(exit.code, 0, exit.output);
    const init = readGatewayLog(log).find((e) => e.event === 'init');
    t.is(init?.event === 'init' ? init.db : undefined, c.expected);
    t.true(fs.existsSync(c.expected), c.expected);
  }
  const bad = await runGateway(t, ['--mode', 'init'], { HERMES_KANBAN_HOME: shared, HERMES_KANBAN_BOARD: '../up' });
  t.not(bad.code, 0);
  t.regex(bad.output, /invalid board slug/);
});

test('init: creates the schema and runs the column migrations, and is idempotent', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'boards', 'kanban.db');
  t.is((await runGateway(t, ['--mode', 'init', '--db', db])).code, 0);
  t.is((await runGateway(t, ['--mode', 'init', '--db', db])).code, 0);
  const board = new Database(db, { readonly: true });
  const tables = (board.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
  t.true(['tasks', 'task_events', 'task_runs'].every((name) => tables.includes(name)));
  t.true(columnsOf(board, 'tasks').includes('consecutive_failures'));
  t.true(columnsOf(board, 'tasks').includes('last_failure_at'));
  t.true(columnsOf(board, 'task_runs').includes('exit_code'));
  t.is(board.pragma('journal_mode', { simple: true }), 'wal');
  board.close();
});

test('init: an impossible path or --no-create on a missing board exits non-zero with a message', async (t) => {
  const dir = tempDir(t);
  const blocker = path.join(dir, 'not-a-dir');
  fs.writeFileSync(blocker, '');
  const blocked = await runGateway(t, ['--mode', 'init', '--db', path.join(blocker, 'kanban.db')]);
  t.not(blocked.code, 0);
  t.regex(blocked.output, /init failed for .*not-a-dir/);

  const missing = path.join(dir, 'missing.db');
  const noCreate = await runGateway(t, ['--mode', 'init', '--no-create', '--db', missing]);
  t.not(noCreate.code, 0);
  t.regex(noCreate.output, /unable to open database file/);
  t.false(fs.existsSync(missing));
});

test('idle: the gateway runs without ever opening the board', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  t.is((await runGateway(t, ['--mode', 'init', '--db', db])).code, 0);
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'idle', '--db', db, '--log', log, '--interval-ms', '20']);
  await waitForGatewayLog(log, (ev) => startOf(ev, gw.pid) !== undefined);
  t.false((await sampleHolding(gw.pid, identityOf(db), 10, 20)).some(Boolean));
  t.is(writesOf(readGatewayLog(log)).length, 0);
  gw.child.kill('SIGTERM');
  t.is((await within(gw.exited, 'exit after SIGTERM')).code, 0);
});

test('SIGTERM stops every running mode cleanly with exit code 0 and a stop line', async (t) => {
  const dir = tempDir(t);
  for (const mode of ['hold', 'tick', 'migrate', 'idle']) {
    const log = path.join(dir, `${mode}.jsonl`);
    const gw = startGateway(t, ['--mode', mode, '--db', path.join(dir, `${mode}.db`), '--log', log, '--interval-ms', '100']);
    await waitForGatewayLog(log, (ev) => startOf(ev, gw.pid) !== undefined && (mode === 'idle' || writesOf(ev).length > 0));
    const sentAt = performance.now();
    gw.child.kill('SIGTERM');
    const exit = await within(gw.exited, `${mode} exit after SIGTERM`);
    t.log(`${mode}: exited ${Math.round(performance.now() - sentAt)} ms after SIGTERM`);
    t.deepEqual(exit, { code: 0, signal: null }, mode);
    const stop = readGatewayLog(log).find((e) => e.event === 'stop');
    t.is(stop?.event === 'stop' ? stop.signal : undefined, 'SIGTERM', mode);
  }
});

test('--ignore-sigterm keeps the gateway writing after SIGTERM; SIGINT still stops it', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'hold', '--db', path.join(dir, 'kanban.db'), '--log', log, '--interval-ms', '50', '--ignore-sigterm']);
  await waitForGatewayLog(log, (ev) => writesOf(ev).length >= 1);
  gw.child.kill('SIGTERM');
  const sentAt = Date.now();
  await waitForGatewayLog(log, (ev) => writesOf(ev).filter((w) => w.ts_ms > sentAt + 100).length >= 2);
  t.is(gw.child.exitCode, null);
  t.false(isGone(gw.pid));
  gw.child.kill('SIGINT');
  t.is((await within(gw.exited, 'exit after SIGINT')).code, 0);
});

test('--exit-after-ms exits by itself with --exit-code, or 1 by default', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'gw.jsonl');
  const crashed = await runGateway(t, ['--mode', 'hold', '--db', path.join(dir, 'kanban.db'), '--log', log, '--exit-after-ms', '300', '--exit-code', '7']);
  t.is(crashed.code, 7);
  const events = readGatewayLog(log);
  t.true(events.some((e) => e.event === 'exit' && e.code === 7));
  t.false(events.some((e) => e.event === 'stop'), 'a crash is not a clean stop');
  t.true(writesOf(events).length >= 1);

  const idle = await runGateway(t, ['--mode', 'idle', '--exit-after-ms', '200']);
  t.is(idle.code, 1);
});

test('a sqlite error is logged with the held inode, and a hold-mode gateway reopens and carries on', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'hold', '--db', db, '--log', log, '--interval-ms', '50'], {
    HERMES_KANBAN_BUSY_TIMEOUT_MS: '50',
  });
  await waitForGatewayLog(log, (ev) => writesOf(ev).length >= 1);
  const identity = identityOf(db);
  const locker = new Database(db);
  t.teardown(() => locker.close());
  locker.exec('BEGIN IMMEDIATE');
  const events = await waitForGatewayLog(log, (ev) => errorsOf(ev).length >= 1);
  locker.exec('COMMIT');
  const error = errorsOf(events)[0]!;
  t.regex(error.error, /database is locked/);
  t.is(identityKey(error), identity);
  await waitForGatewayLog(log, (ev) => writesOf(ev).some((w) => w.ts_ms > error.ts_ms));
  t.true(await waitForOutput(gw, /error \(write\): database is locked/), 'the error is printed too');
  t.is(gw.child.exitCode, null, 'the gateway is still running');
});

test('--fork-child: a hold-mode grandchild holds the board and stops with its parent', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'tick', '--db', db, '--log', log, '--interval-ms', '50', '--fork-child']);
  const events = await waitForGatewayLog(log, (ev) => {
    const pids = new Set(writesOf(ev).map((w) => w.pid));
    return pids.size === 2;
  });
  const childPid = startOf(events, gw.pid)?.child;
  if (typeof childPid !== 'number') return t.fail('the parent logs its child pid');
  t.is(startOf(events, childPid)?.ppid, gw.pid);
  t.is(startOf(events, childPid)?.mode, 'hold');
  t.true(openIdentities(childPid).has(identityOf(db)), 'the grandchild holds the board');

  gw.child.kill('SIGTERM');
  t.is((await within(gw.exited, 'parent exit after SIGTERM')).code, 0);
  t.true(isGone(childPid));
  const childStop = readGatewayLog(log).find((e) => e.event === 'stop' && e.pid === childPid);
  t.is(childStop?.event === 'stop' ? childStop.signal : undefined, 'SIGTERM', 'SIGTERM was forwarded');
});

test('--fork-child: the grandchild dies when its parent is SIGKILLed', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'idle', '--db', path.join(dir, 'kanban.db'), '--log', log, '--fork-child']);
  const events = await waitForGatewayLog(log, (ev) => {
    const child = startOf(ev, gw.pid)?.child;
    return typeof child === 'number' && startOf(ev, child) !== undefined;
  });
  const childPid = startOf(events, gw.pid)!.child!;
  t.false(isGone(childPid));
  gw.child.kill('SIGKILL');
  await gw.exited;
  t.true(await waitGone(childPid), 'the grandchild went with its parent');
});

test('gateway log helpers: torn and foreign lines are skipped, identities numbered by first write', (t) => {
  const line = (o: object) => JSON.stringify({ profile: 'p', pid: 1, ts_ms: 0, ...o });
  const text = [
    line({ event: 'write', dev: 1, ino: 20, rowid: 1, mode: 'hold', ts_ms: 5 }),
    'not json',
    line({ event: 'something-else' }),
    line({ event: 'write', dev: 1, ino: 10, rowid: 1, mode: 'tick', ts_ms: 1 }),
    line({ event: 'error', dev: null, ino: null, error: 'disk I/O error', stage: 'write' }),
    '{"event": "write", "profile": "p", "pi',
  ].join('\n');
  const events = parseGatewayLog(text);
  t.deepEqual(events.map((e) => e.event), ['write', 'write', 'error']);
  t.deepEqual([...generationsOf(writesOf(events))], [['1:10', 0], ['1:20', 1]]);
  t.is(errorsOf(events)[0]?.error, 'disk I/O error');
});

// Hermes 0.21 behaviour, opt-in: the external-supervisor contract, workers, .env, journal mode.
// Serial, so these many processes do not add to the load of the concurrent tests above.

type Line = Record<string, unknown>;

/** Every JSON line of a fixture log, the events the typed reader does not know included. */
function logLines(file: string): Line[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Line];
    } catch {
      return [];
    }
  });
}

async function waitForLines(file: string, done: (lines: Line[]) => boolean, ms = 15_000): Promise<Line[]> {
  let lines: Line[] = [];
  if (!(await poll(() => done((lines = logLines(file))), Boolean, ms))) {
    throw new Error(`${file} did not reach the expected state in ${ms} ms; last lines:\n${lines.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`);
  }
  return lines;
}

/** The gateway_state values `pid` published, a heartbeat's repeat of the same state collapsed. */
function statesOf(lines: Line[], pid: number): string[] {
  const states = lines.filter((l) => l.event === 'state' && l.pid === pid).map((l) => l.state as string);
  return states.filter((state, i) => state !== states[i - 1]);
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Field 22 of /proc/<pid>/stat: the start time Hermes fingerprints a process with. */
function startTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/** The planned-stop marker as Hermes's stop paths write it, `ageMs` old. */
function writePlannedStop(home: string, marker: { target_pid: number; target_start_time: number | null }, ageMs = 0): string {
  const file = path.join(home, '.gateway-planned-stop.json');
  const writtenAt = new Date(Date.now() - ageMs).toISOString().replace('Z', '+00:00');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ ...marker, stopper_pid: process.pid, written_at: writtenAt }));
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

function requestFixture(home: string, request: string): void {
  const file = path.join(home, '.fixture-request');
  fs.writeFileSync(`${file}.tmp`, request);
  fs.renameSync(`${file}.tmp`, file);
}

/** A supervised gateway in its own HERMES_HOME, idle unless `args` say otherwise. */
function startSupervised(t: ExecutionContext, dir: string, name: string, args: string[] = [], env: Record<string, string> = {}) {
  const home = path.join(dir, name);
  const log = path.join(dir, `${name}.jsonl`);
  const gw = startGateway(t, ['--mode', 'idle', '--external-supervisor', '--log', log, '--startup-delay-ms', '50', ...args], {
    HERMES_HOME: home,
    ...env,
  });
  return { gw, home, log, state: () => readJson(path.join(home, 'gateway_state.json')) };
}

/** One request line to the gateway's control socket, its one reply line parsed. */
function askControl(socketPath: string, request: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const sock = net.createConnection({ path: socketPath }, () => sock.write(`${request}\n`));
    sock.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    sock.on('end', () => resolve(JSON.parse(reply) as Record<string, unknown>));
    sock.on('error', reject);
  });
}

async function waitRunning(log: string, pid: number): Promise<void> {
  await waitForLines(log, (lines) => statesOf(lines, pid).includes('running'));
}

/** Kills, at teardown, every worker the gateways logging to `log` spawned: workers outlive them. */
function reapWorkersAtTeardown(t: ExecutionContext, log: string): void {
  t.teardown(() => {
    for (const spawned of logLines(log).filter((l) => l.event === 'spawn')) {
      // Only the worker itself: a pid reused since by another test's process carries no such task.
      try {
        if (processEnv(spawned.worker as number).HERMES_KANBAN_TASK !== spawned.task) continue;
        process.kill(spawned.worker as number, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

function workerWritesAfter(lines: Line[], worker: number, since: number): number {
  return lines.filter((l) => l.event === 'write' && l.pid === worker && (l.ts_ms as number) > since).length;
}

function queryBoard<T>(db: string, sql: string): T[] {
  const board = new Database(db, { readonly: true });
  try {
    return board.prepare(sql).all() as T[];
  } finally {
    board.close();
  }
}

test.serial('external supervisor: gateway_state.json goes starting -> running with a heartbeat; gateway.pid, gateway.lock and gateway.sock name the pid', async (t) => {
  const dir = tempDir(t);
  const { gw, home, log, state } = startSupervised(t, dir, 'alpha', ['--startup-delay-ms', '300', '--heartbeat-ms', '100', '--loop-heartbeat-ms', '100']);
  await waitRunning(log, gw.pid);
  t.deepEqual(statesOf(logLines(log), gw.pid).slice(0, 2), ['starting', 'running']);
  const running = state();
  t.like(running, { gateway_state: 'running', pid: gw.pid, start_time: startTicks(gw.pid), kind: 'hermes-gateway', hermes_home: home, restart_requested: false });
  t.true((running.argv as string[]).includes('--external-supervisor'));
  t.regex(running.updated_at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00$/);
  t.true(await poll(() => state().updated_at !== running.updated_at, Boolean), 'the heartbeat re-stamps updated_at');
  const loopBeat = () => readJson(path.join(home, 'state', 'gateway.heartbeat'));
  const beat = loopBeat();
  t.like(beat, { pid: gw.pid, start_time: startTicks(gw.pid) });
  t.true(await poll(() => loopBeat().updated_at !== beat.updated_at, Boolean), 'the loop heartbeat is rewritten on its own timer');
  t.like(readJson(path.join(home, 'gateway.pid')), { pid: gw.pid, kind: 'hermes-gateway', start_time: startTicks(gw.pid), hermes_home: home });

  const socketPath = path.join(home, 'gateway.sock');
  t.like(await askControl(socketPath, JSON.stringify({ verb: 'identify', id: 7, protocol: 1 })), {
    ok: true,
    id: 7,
    result: { pid: gw.pid, start_time: startTicks(gw.pid), hermes_home: home, supervisor: 'external', kind: 'hermes-gateway' },
  });
  t.like(await askControl(socketPath, JSON.stringify({ verb: 'status', id: 8 })), { ok: true, result: { gateway_state: 'running', answering_pid: gw.pid } });
  t.like(await askControl(socketPath, 'not json'), { ok: false, supported_verbs: ['identify', 'status'] });

  const second = await runGateway(t, ['--mode', 'idle', '--external-supervisor'], { HERMES_HOME: home });
  t.is(second.code, 1, 'a second gateway on a held gateway.lock refuses to start');
  t.regex(second.output, /already running/);
  t.is(state().pid, gw.pid);

  gw.child.kill('SIGINT');
  t.is((await within(gw.exited, 'exit after SIGINT')).code, 0, 'SIGINT is a planned stop');
  t.is(state().gateway_state, 'stopped');
  t.false(fs.existsSync(path.join(home, 'gateway.pid')), 'the owner removes gateway.pid');
  t.false(fs.existsSync(socketPath));
});

test.serial('external supervisor: SIGTERM with a fresh planned-stop marker naming the pid exits 0 and consumes the marker', async (t) => {
  const dir = tempDir(t);
  const { gw, home, log, state } = startSupervised(t, dir, 'alpha');
  await waitRunning(log, gw.pid);
  const marker = writePlannedStop(home, { target_pid: gw.pid, target_start_time: startTicks(gw.pid) });
  gw.child.kill('SIGTERM');
  t.deepEqual(await within(gw.exited, 'exit after SIGTERM'), { code: 0, signal: null });
  t.false(fs.existsSync(marker), 'the marker is consumed');
  t.is(state().gateway_state, 'stopped');
  t.like(logLines(log).find((l) => l.event === 'planned_stop'), { planned: true, reason: 'matched' });
  t.like(logLines(log).find((l) => l.event === 'stop'), { signal: 'SIGTERM', code: 0 });
});

test.serial('external supervisor: SIGTERM without a matching fresh marker exits 1 and leaves the state saying running', async (t) => {
  const dir = tempDir(t);
  const markers: Array<{ name: string; reason: string; write?: (home: string, pid: number) => void; env?: Record<string, string> }> = [
    { name: 'none', reason: 'no marker' },
    { name: 'stale', reason: 'expired', write: (home, pid) => writePlannedStop(home, { target_pid: pid, target_start_time: startTicks(pid) }, 120_000) },
    { name: 'other-pid', reason: 'other pid', write: (home, pid) => writePlannedStop(home, { target_pid: pid + 1, target_start_time: null }) },
    { name: 'other-start', reason: 'other start time', write: (home, pid) => writePlannedStop(home, { target_pid: pid, target_start_time: startTicks(pid) + 1 }) },
    // Declared by env alone, as the supervisor may do; the marker here has no start time, so the pid decides.
    { name: 'by-env', reason: 'matched', write: (home, pid) => writePlannedStop(home, { target_pid: pid, target_start_time: null }), env: { HERMES_GATEWAY_EXTERNAL_SUPERVISOR: 'yes' } },
  ];
  const runs = markers.map((m) => {
    const home = path.join(dir, m.name);
    const log = path.join(dir, `${m.name}.jsonl`);
    const flag = m.env ? [] : ['--external-supervisor'];
    const gw = startGateway(t, ['--mode', 'idle', ...flag, '--log', log, '--startup-delay-ms', '50'], { HERMES_HOME: home, ...m.env });
    return { ...m, gw, home, log };
  });
  for (const run of runs) {
    await waitRunning(run.log, run.gw.pid);
    run.write?.(run.home, run.gw.pid);
    run.gw.child.kill('SIGTERM');
  }
  for (const run of runs) {
    const planned = run.reason === 'matched';
    t.is((await within(run.gw.exited, `${run.name} exit`)).code, planned ? 0 : 1, run.name);
    t.like(logLines(run.log).find((l) => l.event === 'planned_stop'), { planned, reason: run.reason }, run.name);
    t.false(fs.existsSync(path.join(run.home, '.gateway-planned-stop.json')), `${run.name}: a marker is consumed whether or not it matched`);
    t.is(readJson(path.join(run.home, 'gateway_state.json')).gateway_state, planned ? 'stopped' : 'running', run.name);
  }
});

test.serial('external supervisor: SIGUSR1 and a restart request drain, then exit 75', async (t) => {
  const dir = tempDir(t);
  const bySignal = startSupervised(t, dir, 'signal', ['--mode', 'tick', '--db', path.join(dir, 'kanban.db'), '--drain-ms', '300']);
  const byRequest = startSupervised(t, dir, 'request');
  await waitRunning(bySignal.log, bySignal.gw.pid);
  await waitRunning(byRequest.log, byRequest.gw.pid);
  bySignal.gw.child.kill('SIGUSR1');
  requestFixture(byRequest.home, 'restart\n');
  for (const { gw, log, state, home } of [bySignal, byRequest]) {
    t.deepEqual(await within(gw.exited, 'exit after a restart'), { code: 75, signal: null });
    t.deepEqual(statesOf(logLines(log), gw.pid).slice(-2), ['draining', 'stopped']);
    t.like(logLines(log).find((l) => l.event === 'state' && l.state === 'draining')?.record, { restart_requested: true, pid: gw.pid });
    t.like(state(), { gateway_state: 'stopped', exit_reason: 'restart' });
    t.false(fs.existsSync(path.join(home, '.fixture-request')), 'the request is consumed');
  }
  t.true(logLines(bySignal.log).some((l) => l.event === 'drain' && l.ms === 300));
});

test.serial('exit 75 and 78 on demand; an unresolvable board under a supervisor is a fatal config error (78)', async (t) => {
  const dir = tempDir(t);
  const home = path.join(dir, 'home');
  const restart = await runGateway(t, ['--mode', 'idle', '--external-supervisor', '--exit-75-after-ms', '200'], { HERMES_HOME: home });
  t.is(restart.code, 75);
  t.is(readJson(path.join(home, 'gateway_state.json')).gateway_state, 'stopped');

  const fatal = await runGateway(t, ['--mode', 'idle', '--external-supervisor', '--exit-78-after-ms', '200'], { HERMES_HOME: home });
  t.is(fatal.code, 78);
  t.like(readJson(path.join(home, 'gateway_state.json')), { gateway_state: 'startup_failed', exit_reason: 'fatal configuration error' });

  const badBoard = await runGateway(t, ['--mode', 'tick', '--external-supervisor'], { HERMES_HOME: home, HERMES_KANBAN_BOARD: '../up' });
  t.is(badBoard.code, 78);
  t.regex(badBoard.output, /invalid board slug/);
  t.is(readJson(path.join(home, 'gateway_state.json')).gateway_state, 'startup_failed');

  const unsupervised = await runGateway(t, ['--mode', 'idle', '--exit-78-after-ms', '100'], { HERMES_HOME: path.join(dir, 'plain') });
  t.is(unsupervised.code, 78, 'the on-demand codes need no supervisor');
  t.false(fs.existsSync(path.join(dir, 'plain', 'gateway_state.json')), 'without the flag no state file is written');
});

test.serial('workers: spawned in a session of their own with the task env, recorded in the board, and outlive a SIGKILLed gateway', async (t) => {
  const dir = tempDir(t);
  const home = path.join(dir, 'home');
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'gw.jsonl');
  reapWorkersAtTeardown(t, log);
  const gw = startGateway(t, ['--mode', 'idle', '--db', db, '--log', log, '--interval-ms', '50', '--spawn-worker-every-ms', '100', '--max-workers', '1'], {
    HERMES_HOME: home,
  });
  const lines = await waitForLines(log, (ls) => {
    const spawned = ls.find((l) => l.event === 'spawn');
    return spawned !== undefined && workerWritesAfter(ls, spawned.worker as number, 0) >= 2;
  });
  const spawned = lines.find((l) => l.event === 'spawn')!;
  const worker = spawned.worker as number;
  t.like(lines.find((l) => l.event === 'start' && l.pid === worker), { mode: 'worker', ppid: gw.pid, sid: worker, task: spawned.task });
  t.like(processEnv(worker), {
    HERMES_KANBAN_DB: db,
    HERMES_KANBAN_TASK: spawned.task as string,
    HERMES_KANBAN_RUN_ID: String(spawned.run_id),
    HERMES_KANBAN_BOARD: 'default',
    HERMES_HOME: home,
  });
  t.true(
    await poll(() => queryBoard<{ worker_pid: number }>(db, `SELECT worker_pid FROM task_runs WHERE id = ${Number(spawned.run_id)}`)[0]?.worker_pid === worker, Boolean),
    'the run records the worker pid',
  );
  t.deepEqual(queryBoard(db, 'SELECT id, status, worker_pid, current_run_id FROM tasks'), [
    { id: spawned.task, status: 'running', worker_pid: worker, current_run_id: spawned.run_id },
  ]);

  gw.child.kill('SIGKILL');
  await gw.exited;
  const killedAt = Date.now();
  await waitForLines(log, (ls) => workerWritesAfter(ls, worker, killedAt) >= 3);
  t.false(isGone(worker), 'the worker outlived its gateway');
  t.true(
    queryBoard<{ payload: string }>(db, "SELECT payload FROM task_events WHERE kind = 'worker.tool_call'").every((r) => JSON.parse(r.payload).pid === worker),
  );
});

test.serial('workers: a request names the task; the worker outlives an unplanned SIGTERM and marks its run done when it ends', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const { gw, home, log } = startSupervised(t, dir, 'home', ['--db', db, '--interval-ms', '50', '--worker-ms', '1500']);
  reapWorkersAtTeardown(t, log);
  await waitRunning(log, gw.pid);
  requestFixture(home, 'worker job-7');
  const spawned = (await waitForLines(log, (ls) => ls.some((l) => l.event === 'spawn'))).find((l) => l.event === 'spawn')!;
  t.is(spawned.task, 'job-7');
  const worker = spawned.worker as number;
  await waitForLines(log, (ls) => workerWritesAfter(ls, worker, 0) >= 1);

  gw.child.kill('SIGTERM');
  t.is((await within(gw.exited, 'gateway exit')).code, 1);
  const stoppedAt = Date.now();
  const lines = await waitForLines(log, (ls) => ls.some((l) => l.event === 'stop' && l.pid === worker));
  t.true(workerWritesAfter(lines, worker, stoppedAt) >= 1, 'the worker kept writing after its gateway stopped');
  t.like(lines.find((l) => l.event === 'done'), { pid: worker, task: 'job-7' });
  t.like(lines.find((l) => l.event === 'stop' && l.pid === worker), { code: 0, signal: null });
  t.deepEqual(queryBoard(db, "SELECT status FROM tasks WHERE id = 'job-7'"), [{ status: 'done' }]);
  t.deepEqual(queryBoard(db, 'SELECT status, ended_at IS NOT NULL AS ended FROM task_runs'), [{ status: 'done', ended: 1 }]);
});

test.serial('.env: <HERMES_HOME>/.env and then the managed .env override the process env before the board is resolved', async (t) => {
  const dir = tempDir(t);
  const home = path.join(dir, 'profiles', 'writer');
  const managed = path.join(dir, 'managed');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(managed);
  const homeDb = path.join(dir, 'from-home', 'kanban.db');
  const managedDb = path.join(dir, 'from-managed', 'kanban.db');
  const envDb = path.join(dir, 'from-env', 'kanban.db');
  fs.writeFileSync(path.join(home, '.env'), `# the profile's secrets\nexport HERMES_KANBAN_DB="${homeDb}"\nOTHER=1 # comment\n`);
  const env = { HERMES_HOME: home, HERMES_KANBAN_DB: envDb };

  const homeLog = path.join(dir, 'home.jsonl');
  t.is((await runGateway(t, ['--mode', 'tick', '--ticks', '1', '--log', homeLog], env)).code, 0);
  t.like(logLines(homeLog).find((l) => l.event === 'start'), { db: homeDb });
  t.like(logLines(homeLog).find((l) => l.event === 'env'), { file: path.join(home, '.env'), keys: ['HERMES_KANBAN_DB', 'OTHER'] });
  t.true(fs.existsSync(homeDb));
  t.false(fs.existsSync(envDb), "the supervisor's value lost to the .env");

  fs.writeFileSync(path.join(managed, '.env'), `HERMES_KANBAN_DB=${managedDb}\n`);
  const managedLog = path.join(dir, 'managed.jsonl');
  t.is((await runGateway(t, ['--mode', 'init', '--log', managedLog], { ...env, HERMES_MANAGED_DIR: managed })).code, 0);
  t.like(logLines(managedLog).find((l) => l.event === 'init'), { db: managedDb });
  t.false(fs.existsSync(envDb));
});

const journalFacts = JSON.parse(
  execFileSync('python3', ['-c', [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(fixturesDir)})`,
    'import hermes_gateway as g',
    'cases = ["3.6.23", "3.7.0", "3.40.1", "3.44.5", "3.44.6", "3.45.0", "3.50.6", "3.50.7", "3.51.0", "3.51.2", "3.51.3"]',
    'v = lambda s: tuple(int(p) for p in s.split("."))',
    'print(json.dumps({"here": g.wal_reset_vulnerable(g.SQLITE_VERSION), "cases": {c: g.wal_reset_vulnerable(v(c)) for c in cases}}))',
  ].join('\n')], { encoding: 'utf8' }),
) as { here: boolean; cases: Record<string, boolean> };

test.serial("--journal auto and --hermes-pragmas: DELETE on a WAL-reset-vulnerable SQLite (this python links one), Hermes's pragmas, an existing WAL board stays WAL", async (t) => {
  t.deepEqual(journalFacts.cases, {
    '3.6.23': false, '3.7.0': true, '3.40.1': true, '3.44.5': true, '3.44.6': false, '3.45.0': true,
    '3.50.6': true, '3.50.7': false, '3.51.0': true, '3.51.2': true, '3.51.3': false,
  });
  const expected = journalFacts.here ? 'delete' : 'wal';
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'gw.jsonl');
  const gw = startGateway(t, ['--mode', 'tick', '--db', db, '--log', log, '--interval-ms', '20', '--journal', 'auto', '--hermes-pragmas']);
  const sidecars: string[] = [];
  t.true(
    await poll(() => {
      for (const suffix of ['-wal', '-shm']) if (fs.existsSync(db + suffix)) sidecars.push(suffix);
      return writesOf(readGatewayLog(log)).length >= 10;
    }, Boolean),
  );
  gw.child.kill('SIGTERM');
  t.is((await within(gw.exited, 'exit')).code, 0);
  if (expected === 'delete') t.deepEqual(sidecars, [], 'no -wal or -shm while writing');
  t.false(fs.existsSync(`${db}-journal`), 'a committed rollback journal is deleted');
  t.is(queryBoard<{ journal_mode: string }>(db, 'PRAGMA journal_mode')[0]?.journal_mode, expected);
  t.like(logLines(log).find((l) => l.event === 'pragmas'), {
    journal_mode: expected,
    synchronous: 2, // FULL
    busy_timeout: 120_000,
    wal_autocheckpoint: 100,
    journal_size_limit: 8_388_608,
  });

  const walBoard = path.join(dir, 'wal.db');
  t.is((await runGateway(t, ['--mode', 'init', '--db', walBoard])).code, 0);
  t.is((await runGateway(t, ['--mode', 'tick', '--ticks', '2', '--db', walBoard, '--journal', 'auto'])).code, 0);
  t.is(queryBoard<{ journal_mode: string }>(walBoard, 'PRAGMA journal_mode')[0]?.journal_mode, 'wal', 'never downgraded in place');
  const defaults = path.join(dir, 'defaults.jsonl');
  t.is((await runGateway(t, ['--mode', 'tick', '--ticks', '1', '--db', path.join(dir, 'defaults.db'), '--log', defaults])).code, 0);
  t.like(logLines(defaults).find((l) => l.event === 'pragmas'), { journal_mode: 'wal', synchronous: 1, busy_timeout: 5000 }, "today's defaults");

  const deleteBoard = path.join(dir, 'delete.db');
  t.is((await runGateway(t, ['--mode', 'init', '--db', deleteBoard, '--journal', 'delete'])).code, 0);
  t.is(queryBoard<{ journal_mode: string }>(deleteBoard, 'PRAGMA journal_mode')[0]?.journal_mode, 'delete');
});

test.serial('dashboard: one long-lived connection, writing as it polls', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const log = path.join(dir, 'dash.jsonl');
  const dash = startGateway(t, ['--mode', 'dashboard', '--db', db, '--log', log, '--interval-ms', '50'], {
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0',
    HERMES_KANBAN_NOTIFY_IN_GATEWAY: '0',
  });
  await waitForGatewayLog(log, (ev) => writesOf(ev).length >= 3);
  t.true((await sampleHolding(dash.pid, identityOf(db), 8, 30)).every(Boolean), 'the connection stays open; the gateway switches do not apply');
  dash.child.kill('SIGTERM');
  t.is((await within(dash.exited, 'exit')).code, 0);
  t.true(queryBoard<{ kind: string }>(db, 'SELECT kind FROM task_events').every((r) => r.kind === 'dashboard.event'));
});
