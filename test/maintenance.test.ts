import test from 'ava';
import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import {
  classifyCheckRows,
  classifyProbeError,
  filesystemOf,
  fsTypeName,
  installRebuilt,
  isNetworkFs,
  moveAsideSidecars,
  parseHeader,
  passiveCheckpoint,
  planPrune,
  probeIntegrity,
  probeIntegrityInThread,
  pruneQuarantine,
  quarantineBoard,
  readHeaderInChild,
  rebuildBoard,
  walNeedsCheckpoint,
  walSize,
} from '../src/maintenance/index.js';
import { tempDir } from './helpers/tempDir.js';

const PAGE = 4096;

interface BoardLayout {
  /** Leaf pages of a table with the number of rows (cells) on each. */
  leaves: Record<string, Array<{ page: number; cells: number }>>;
  roots: Record<string, number>;
}

/** A board shaped like Hermes's: tasks, task_events (AUTOINCREMENT), task_runs, plus dependents. */
function populate(db: Database.Database): void {
  db.exec(`
    CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER);
    CREATE TABLE task_events (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, kind TEXT, payload TEXT);
    CREATE INDEX idx_task_events_task ON task_events(task_id);
    CREATE TABLE task_runs (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, outcome TEXT);
    CREATE INDEX idx_task_runs_task ON task_runs(task_id);
    CREATE VIEW open_tasks AS SELECT id, title FROM tasks WHERE status = 'open';
    CREATE TRIGGER task_events_touch AFTER INSERT ON task_events BEGIN
      UPDATE tasks SET created_at = created_at + 1000000 WHERE id = NEW.task_id;
    END;
    PRAGMA user_version = 3;
  `);
  const task = db.prepare('INSERT INTO tasks VALUES (?, ?, ?, ?)');
  const event = db.prepare('INSERT INTO task_events (task_id, kind, payload) VALUES (?, ?, ?)');
  const run = db.prepare('INSERT INTO task_runs (task_id, outcome) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i += 1) task.run(`t${i}`, `task ${i} ${'x'.repeat(80)}`, 'open', i);
    for (let i = 0; i < 3000; i += 1) event.run(`t${i % 2000}`, 'note', `event ${i} ${'p'.repeat(180)}`);
    for (let i = 0; i < 2500; i += 1) run.run(`t${i % 2000}`, `run ${i} ${'r'.repeat(60)}`);
  })();
}

function layoutOf(db: Database.Database): BoardLayout {
  const leaves: BoardLayout['leaves'] = {};
  const rows = db.prepare("SELECT name, pageno, ncell FROM dbstat WHERE pagetype = 'leaf' ORDER BY pageno").all() as Array<{ name: string; pageno: number; ncell: number }>;
  for (const row of rows) (leaves[row.name] ??= []).push({ page: row.pageno, cells: row.ncell });
  const roots = Object.fromEntries(
    (db.prepare("SELECT name, rootpage FROM sqlite_master WHERE type IN ('table', 'index')").all() as Array<{ name: string; rootpage: number }>).map((r) => [r.name, r.rootpage]),
  );
  return { leaves, roots };
}

function makeBoard(file: string, journal: 'wal' | 'delete' = 'wal'): BoardLayout {
  const db = new Database(file);
  try {
    db.pragma(`journal_mode = ${journal}`);
    populate(db);
    return layoutOf(db);
  } finally {
    db.close();
  }
}

/** Overwrites whole pages of a closed test database with garbage. */
function smashPages(file: string, pages: readonly number[], fill = 0xa5): void {
  const fd = fs.openSync(file, 'r+');
  try {
    for (const page of pages) fs.writeSync(fd, Buffer.alloc(PAGE, fill), 0, PAGE, (page - 1) * PAGE);
  } finally {
    fs.closeSync(fd);
  }
}

function leafAt(layout: BoardLayout, table: string, index: number): { page: number; cells: number } {
  const leaf = layout.leaves[table]?.[index];
  if (!leaf) throw new Error(`no leaf ${index} for ${table}`);
  return leaf;
}

function spawnPython(script: string, args: readonly string[]) {
  return execa('python3', ['-c', script, ...args], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false });
}

/** A python3 process (stdlib sqlite3, like a gateway) that does `script` and waits on stdin. */
class Holder {
  private readonly lines: AsyncIterator<string>;

  constructor(private readonly child: ReturnType<typeof spawnPython>) {
    this.lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static start(t: ExecutionContext, script: string, args: string[]): Holder {
    const child = spawnPython(script, args);
    t.teardown(() => {
      if (child.exitCode === null) child.kill();
    });
    return new Holder(child);
  }

  async expect(line: string): Promise<void> {
    const next = await this.lines.next();
    if (next.done || next.value !== line) throw new Error(`holder said ${JSON.stringify(next.value)}, expected ${line}`);
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  async finish(): Promise<void> {
    this.child.stdin.end();
    await this.child;
  }
}

// probe ------------------------------------------------------------------------------------------

test('probe reports ok for a healthy WAL board, quick and full', (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board);
  const quick = probeIntegrity(board);
  const full = probeIntegrity(board, { full: true });
  t.is(quick.status, 'ok');
  t.is(full.status, 'ok');
  t.true(quick.durationMs >= 0);
  t.log(`quick_check ${quick.durationMs.toFixed(1)} ms, integrity_check ${full.durationMs.toFixed(1)} ms`);
});

test('probe tells the journal mode its connection found: wal, delete, none for an empty file', async (t) => {
  const dir = tempDir(t);
  for (const journal of ['wal', 'delete'] as const) {
    const board = path.join(dir, `${journal}.db`);
    makeBoard(board, journal);
    t.is(probeIntegrity(board).journalMode, journal);
    t.is((await probeIntegrityInThread(board)).journalMode, journal);
  }
  const empty = path.join(dir, 'empty.db');
  fs.writeFileSync(empty, '');
  const probe = probeIntegrity(empty);
  t.is(probe.status, 'ok');
  t.false('journalMode' in probe);
});

test('probe reports missing for an absent board', (t) => {
  const dir = tempDir(t);
  const result = probeIntegrity(path.join(dir, 'kanban.db'));
  t.is(result.status, 'missing');
  t.false(fs.existsSync(path.join(dir, 'kanban.db')));
});

test('probe reports corrupt when pages are overwritten', (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board);
  smashPages(board, [leafAt(layout, 'task_events', 30).page, leafAt(layout, 'task_runs', 5).page]);
  t.is(probeIntegrity(board).status, 'corrupt');
  t.is(probeIntegrity(board, { full: true }).status, 'corrupt');
});

test('a probe on its own thread gives the same verdicts: ok, corrupt, missing', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board);
  t.like(await probeIntegrityInThread(board), { status: 'ok', detail: 'ok' });
  smashPages(board, [leafAt(layout, 'task_events', 30).page]);
  const corrupt = await probeIntegrityInThread(board, { full: true });
  t.is(corrupt.status, 'corrupt');
  t.deepEqual(corrupt, { ...probeIntegrity(board, { full: true }), durationMs: corrupt.durationMs });
  t.is((await probeIntegrityInThread(path.join(dir, 'absent.db'))).status, 'missing');
});

test('probe reports corrupt for a file that is not a database', (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board);
  smashPages(board, [1]);
  const result = probeIntegrity(board);
  t.is(result.status, 'corrupt');
  t.is(result.code, 'SQLITE_NOTADB');
});

// header -----------------------------------------------------------------------------------------

/** Header bytes 18 and 19: 1/1 for a rollback journal, 2/2 for WAL. */
const journalBytes = (file: string): number[] => [...fs.readFileSync(file).subarray(18, 20)];

/** PRAGMA journal_mode as a new connection finds the file. */
function journalModeOf(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('journal_mode', { simple: true }) as string;
  } finally {
    db.close();
  }
}

test('parseHeader tells WAL from rollback boards, and shows at most 16 escaped bytes of anything else', (t) => {
  const dir = tempDir(t);
  const wal = path.join(dir, 'wal.db');
  const rollback = path.join(dir, 'delete.db');
  makeBoard(wal, 'wal');
  makeBoard(rollback, 'delete');
  t.like(parseHeader(fs.readFileSync(wal).subarray(0, 100)), { kind: 'sqlite', journal: 'wal', versions: [2, 2] });
  t.like(parseHeader(fs.readFileSync(rollback).subarray(0, 100)), { kind: 'sqlite', journal: 'delete', versions: [1, 1] });
  t.deepEqual(parseHeader(Buffer.from('root:x:0:0:root:/root:/bin/bash\n')), { kind: 'not_sqlite', prefix: 'root:x:0:0:root:' });
  t.deepEqual(parseHeader(Buffer.from([0x1f, 0x8b, 0x27, 0x5c, 0x0a, 0x41])), { kind: 'not_sqlite', prefix: "\\x1f\\x8b\\'\\\\\\x0aA" });
  t.deepEqual(parseHeader(Buffer.from('SQLite format')), { kind: 'not_sqlite', prefix: 'SQLite format' });
  t.deepEqual(parseHeader(Buffer.alloc(0)), { kind: 'empty' });
  const odd = fs.readFileSync(wal).subarray(0, 100);
  odd[18] = 0xa5;
  t.like(parseHeader(odd), { kind: 'sqlite', journal: null, versions: [0xa5, 2] });
});

test('readHeaderInChild reads a board header in a child process, byte for byte', async (t) => {
  const dir = tempDir(t);
  const rollback = path.join(dir, 'kanban.db');
  makeBoard(rollback, 'delete');
  const passwd = path.join(dir, 'passwd');
  fs.writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\n');
  t.deepEqual(await readHeaderInChild(rollback), { ok: true, header: parseHeader(fs.readFileSync(rollback).subarray(0, 100)) });
  t.deepEqual(await readHeaderInChild(passwd), { ok: true, header: { kind: 'not_sqlite', prefix: 'root:x:0:0:root:' } });
  const absent = await readHeaderInChild(path.join(dir, 'absent.db'));
  t.false(absent.ok);
  t.regex(absent.ok ? '' : absent.error, /cannot read the header of .*absent\.db/);
});

const EXCLUSIVE_ROLLBACK = `
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute('BEGIN EXCLUSIVE')
print('ready', flush=True)
sys.stdin.read()
conn.execute('ROLLBACK')
`;

test('probe reports busy, not corrupt, while another process holds an exclusive lock', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board, 'delete');
  const holder = Holder.start(t, EXCLUSIVE_ROLLBACK, [board]);
  await holder.expect('ready');
  const held = probeIntegrity(board, { busyTimeoutMs: 100 });
  t.is(held.status, 'busy');
  t.is(held.code, 'SQLITE_BUSY');
  await holder.finish();
  t.is(probeIntegrity(board).status, 'ok');
});

const EXCLUSIVE_WAL = `
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute('PRAGMA locking_mode=EXCLUSIVE')
conn.execute('BEGIN IMMEDIATE')
conn.execute("INSERT INTO task_runs (task_id, outcome) VALUES ('t1', 'held')")
conn.execute('COMMIT')
print('ready', flush=True)
sys.stdin.read()
`;

test('probe reports busy on a WAL board held in exclusive locking mode', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board, 'wal');
  const holder = Holder.start(t, EXCLUSIVE_WAL, [board]);
  await holder.expect('ready');
  t.is(probeIntegrity(board, { busyTimeoutMs: 100 }).status, 'busy');
  await holder.finish();
  t.is(probeIntegrity(board).status, 'ok');
});

test('classifyProbeError never reads lock contention as corruption', (t) => {
  const sqliteError = (code: string) => new Database.SqliteError(`failed with ${code}`, code);
  for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED', 'SQLITE_LOCKED_SHAREDCACHE']) {
    t.is(classifyProbeError(sqliteError(code)).status, 'busy', code);
  }
  for (const code of ['SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_NOTADB']) {
    t.is(classifyProbeError(sqliteError(code)).status, 'corrupt', code);
  }
  for (const code of ['SQLITE_CANTOPEN', 'SQLITE_READONLY_DIRECTORY', 'SQLITE_READONLY_CANTINIT', 'SQLITE_READONLY_RECOVERY', 'SQLITE_IOERR_SHORT_READ', 'SQLITE_PERM']) {
    t.is(classifyProbeError(sqliteError(code)).status, 'error', code);
  }
  t.is(classifyProbeError(Object.assign(new Error('gone'), { code: 'ENOENT' })).status, 'missing');
  t.is(classifyProbeError(new Error('no code')).status, 'error');
  t.is(classifyProbeError(sqliteError('SQLITE_BUSY_SNAPSHOT')).code, 'SQLITE_BUSY_SNAPSHOT');
});

test('classifyCheckRows accepts only a single ok row', (t) => {
  t.is(classifyCheckRows(['ok']).status, 'ok');
  t.is(classifyCheckRows([]).status, 'corrupt');
  t.is(classifyCheckRows(['ok', 'ok']).status, 'corrupt');
  const bad = classifyCheckRows(['*** in database main ***', 'Page 7: btreeInitPage() returns error code 11']);
  t.is(bad.status, 'corrupt');
  t.true(bad.detail.includes('Page 7'));
});

// quarantine -------------------------------------------------------------------------------------

function sha12(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 12);
}

test('quarantine copies a corrupt board with its sidecars once, then recognises the same bytes', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board);
  smashPages(board, [leafAt(layout, 'task_events', 20).page]);
  // A connection that writes without checkpointing leaves a real -wal and -shm beside the board.
  const writer = new Database(board);
  t.teardown(() => writer.close());
  writer.pragma('wal_autocheckpoint = 0');
  writer.prepare("INSERT INTO tasks VALUES ('late', 'late task', 'open', 0)").run();
  t.true(fs.existsSync(`${board}-wal`));

  const qdir = path.join(dir, 'state', 'quarantine', 'default');
  const first = await quarantineBoard(board, { dir: qdir, slug: 'default', keep: 5, now: new Date('2025-01-02T03:04:05.678Z') });
  t.true(first.copied);
  t.is(path.basename(first.path), `default.2025-01-02T03-04-05.678Z.${first.hash}.db`);
  t.deepEqual(first.files.map((file) => path.basename(file)).sort(), [first.path, `${first.path}-shm`, `${first.path}-wal`].map((file) => path.basename(file)).sort());
  t.is(first.hash, sha12([first.path, `${first.path}-wal`]));
  t.deepEqual(fs.readFileSync(first.path), fs.readFileSync(board));
  t.deepEqual(fs.readFileSync(`${first.path}-wal`), fs.readFileSync(`${board}-wal`));
  t.is(fs.statSync(qdir).mode & 0o777, 0o700);
  t.deepEqual(first.removed, []);

  const listing = fs.readdirSync(qdir).sort();
  const second = await quarantineBoard(board, { dir: qdir, slug: 'default', keep: 5, now: new Date('2025-01-02T04:00:00.000Z') });
  t.false(second.copied);
  t.is(second.path, first.path);
  t.is(second.hash, first.hash);
  t.deepEqual(fs.readdirSync(qdir).sort(), listing);
});

test('quarantine keeps at most `keep` copies, removing the oldest, and leaves other files alone', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board);
  const qdir = path.join(dir, 'quarantine', 'ops');
  fs.mkdirSync(qdir, { recursive: true });
  const foreign = path.join(qdir, 'operator-notes.txt');
  fs.writeFileSync(foreign, 'keep me');

  const results = [];
  for (const [n, fill] of [0x11, 0x22, 0x33].entries()) {
    smashPages(board, [leafAt(layout, 'tasks', 10).page], fill);
    results.push(await quarantineBoard(board, { dir: qdir, slug: 'ops', keep: 2, now: new Date(Date.UTC(2025, 0, 1, 0, n)) }));
  }
  const [oldest, middle, newest] = results;
  t.true(results.every((result) => result.copied));
  t.is(new Set(results.map((result) => result.hash)).size, 3);
  t.deepEqual(oldest!.removed, []);
  t.deepEqual(middle!.removed, []);
  t.deepEqual(newest!.removed, oldest!.files);
  t.false(fs.existsSync(oldest!.path));
  t.true(fs.existsSync(middle!.path));
  t.true(fs.existsSync(newest!.path));
  t.is(fs.readFileSync(foreign, 'utf8'), 'keep me');
  t.deepEqual(fs.readdirSync(qdir).sort(), ['operator-notes.txt', path.basename(middle!.path), path.basename(newest!.path)].sort());
});

test('planPrune counts a copy with its sidecars, and each move-aside, as one set and ignores names it did not make', (t) => {
  const owner = { slug: 'b', boardName: 'kanban.db' };
  const names = [
    'b.2025-01-01T00-00-00.000Z.aaaaaaaaaaaa.db',
    'b.2025-01-01T00-00-00.000Z.aaaaaaaaaaaa.db-wal',
    'kanban.db.2025-01-01T12-00-00.000Z.gen2.wal',
    'kanban.db.2025-01-01T12-00-00.000Z.gen2.shm',
    'kanban.db.2025-01-01T12-00-00.000Z.gen2.wal.1',
    'b.2025-01-02T00-00-00.000Z.bbbbbbbbbbbb.db',
    'kanban.db.2025-01-02T00-00-00.000Z.corrupt.journal',
    'b.2025-01-03T00-00-00.000Z.cccccccccccc.db',
    'b.2025-01-03T00-00-00.000Z.cccccccccccc.db-shm',
    'other.2024-01-01T00-00-00.000Z.dddddddddddd.db',
    'other.db.2024-01-01T00-00-00.000Z.gen1.wal',
    'kanban.db.2024-01-01T00-00-00.000Z.gen1.wal.bak',
    'kanban.db.2024-01-01T00-00-00.000Z.gen1.txt',
    'b.db',
    'README',
  ];
  t.deepEqual(planPrune(owner, names, 4), ['b.2025-01-01T00-00-00.000Z.aaaaaaaaaaaa.db', 'b.2025-01-01T00-00-00.000Z.aaaaaaaaaaaa.db-wal']);
  t.deepEqual(planPrune(owner, names, 3), [
    'b.2025-01-01T00-00-00.000Z.aaaaaaaaaaaa.db',
    'b.2025-01-01T00-00-00.000Z.aaaaaaaaaaaa.db-wal',
    'kanban.db.2025-01-01T12-00-00.000Z.gen2.shm',
    'kanban.db.2025-01-01T12-00-00.000Z.gen2.wal',
    'kanban.db.2025-01-01T12-00-00.000Z.gen2.wal.1',
  ]);
  // A copy and sidecars moved in the same millisecond are two sets, the copy counted as the older.
  const two = planPrune(owner, names, 2);
  t.is(two.at(-1), 'b.2025-01-02T00-00-00.000Z.bbbbbbbbbbbb.db');
  t.false(two.includes('kanban.db.2025-01-02T00-00-00.000Z.corrupt.journal'));
  t.deepEqual(planPrune(owner, names, 5), []);
});

test('the quarantine cap counts copies and moved-aside sidecars alike, keeping the newest sets whole', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board);
  const qdir = path.join(dir, 'quarantine', 'ops');
  fs.mkdirSync(qdir, { recursive: true });
  const foreign = ['operator-notes.txt', 'kanban.db.copy', 'ops.db-wal'];
  for (const name of foreign) fs.writeFileSync(path.join(qdir, name), 'keep me');
  const keep = 2;
  const minute = (n: number) => new Date(Date.UTC(2025, 0, 1, 0, n));
  const sets: string[][] = [];
  // After every move-aside the folder holds the newest `keep` sets whole, whatever kind they are.
  const expectNewest = (removed: readonly string[]): void => {
    t.deepEqual(fs.readdirSync(qdir).sort(), [...foreign, ...sets.slice(-keep).flat().map((file) => path.basename(file))].sort());
    t.deepEqual([...removed].sort(), [...(sets.length > keep ? sets[sets.length - keep - 1]! : [])].sort());
  };
  const moveAside = async (n: number, tag: string): Promise<void> => {
    fs.writeFileSync(`${board}-wal`, `wal ${n}`);
    fs.writeFileSync(`${board}-shm`, `shm ${n}`);
    const moved = await moveAsideSidecars(board, qdir, tag, minute(n));
    t.is(moved.length, 2);
    sets.push(moved);
    expectNewest(pruneQuarantine({ dir: qdir, slug: 'ops', dbPath: board, keep }));
  };

  for (const [n, fill] of [0x11, 0x22, 0x33].entries()) {
    smashPages(board, [leafAt(layout, 'tasks', 10).page], fill);
    const copy = await quarantineBoard(board, { dir: qdir, slug: 'ops', keep, now: minute(10 * n) });
    t.true(copy.copied);
    sets.push(copy.files);
    expectNewest(copy.removed);
    await moveAside(10 * n + 1, `gen${n + 1}`);
    await moveAside(10 * n + 2, 'corrupt');
  }
  t.is(sets.length, 9);
  t.deepEqual(pruneQuarantine({ dir: qdir, slug: 'ops', dbPath: board, keep }), []);
  for (const name of foreign) t.is(fs.readFileSync(path.join(qdir, name), 'utf8'), 'keep me');
});

test('moveAsideSidecars renames -wal/-shm into the directory under names SQLite will not pair', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board);
  fs.writeFileSync(`${board}-wal`, 'old generation wal');
  fs.writeFileSync(`${board}-shm`, 'old generation shm');
  const aside = path.join(dir, 'aside');
  const moved = await moveAsideSidecars(board, aside, 'swap: generation 4', new Date('2025-03-01T10:00:00.000Z'));
  t.deepEqual(moved.map((file) => path.basename(file)), ['kanban.db.2025-03-01T10-00-00.000Z.swap-generation-4.wal', 'kanban.db.2025-03-01T10-00-00.000Z.swap-generation-4.shm']);
  t.false(fs.existsSync(`${board}-wal`));
  t.false(fs.existsSync(`${board}-shm`));
  t.is(fs.readFileSync(moved[0]!, 'utf8'), 'old generation wal');
  t.is(fs.readFileSync(moved[1]!, 'utf8'), 'old generation shm');
  t.true(fs.existsSync(board));
  t.deepEqual(await moveAsideSidecars(board, aside, 'again'), []);
});

// rebuild ----------------------------------------------------------------------------------------

function snapshotRows(file: string, table: string): Map<number, string> {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare(`SELECT rowid AS r, * FROM ${table}`).all() as Array<Record<string, unknown>>;
    return new Map(rows.map(({ r, ...rest }) => [r as number, JSON.stringify(rest)]));
  } finally {
    db.close();
  }
}

test('rebuild keeps the readable rows around damaged pages, counts the loss and passes integrity_check', (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board);
  const original = { tasks: snapshotRows(board, 'tasks'), task_events: snapshotRows(board, 'task_events') };
  const damagedLeaves = [leafAt(layout, 'task_events', 40), leafAt(layout, 'task_events', 41), leafAt(layout, 'task_events', 120)];
  const rowsOnDamagedLeaves = damagedLeaves.reduce((sum, leaf) => sum + leaf.cells, 0);
  smashPages(board, [...damagedLeaves.map((leaf) => leaf.page), layout.roots.task_runs!]);
  t.is(probeIntegrity(board).status, 'corrupt');

  const out = path.join(dir, 'kanban.db.rebuilt');
  const result = rebuildBoard(board, out);
  t.log(JSON.stringify(result.tables));
  t.deepEqual(result.schemaErrors, []);
  t.deepEqual(result.tables.tasks, { recovered: 2000, lost: 0 });
  t.deepEqual(result.tables.task_events, { recovered: 3000 - rowsOnDamagedLeaves, lost: rowsOnDamagedLeaves });
  // The root page is gone, but idx_task_runs_task still lists every row that existed.
  t.deepEqual(result.tables.task_runs, { recovered: 0, lost: 2500 });

  t.is(probeIntegrity(out, { full: true }).status, 'ok');
  const rebuilt = new Database(out, { readonly: true });
  t.teardown(() => rebuilt.close());
  t.is(rebuilt.pragma('journal_mode', { simple: true }), 'wal');
  t.is(rebuilt.pragma('user_version', { simple: true }), 3);
  t.is(rebuilt.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'task_events'").pluck().get(), 3000);
  const objects = rebuilt.prepare("SELECT type || ':' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1").pluck().all();
  t.deepEqual(objects, [
    'index:idx_task_events_task',
    'index:idx_task_runs_task',
    'table:task_events',
    'table:task_runs',
    'table:tasks',
    'trigger:task_events_touch',
    'view:open_tasks',
  ]);
  // Every recovered row is the original row: had the trigger fired on the copy, tasks would differ.
  for (const table of ['tasks', 'task_events'] as const) {
    const copied = snapshotRows(out, table);
    for (const [rowid, row] of copied) t.is(original[table].get(rowid), row, `${table} rowid ${rowid}`);
  }
});

test('rebuild recovers sparse rowids past damage and estimates a loss no index can count from the damaged pages', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'sparse.db');
  const db = new Database(file);
  db.exec('CREATE TABLE notes (body TEXT)');
  const insert = db.prepare('INSERT INTO notes (rowid, body) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0n; i < 2000n; i += 1n) insert.run(i * 4611686018427387n - 4611686018427387000n, `note ${i} ${'n'.repeat(100)}`);
  })();
  const layout = layoutOf(db);
  db.close();
  const damaged = [leafAt(layout, 'notes', 5), leafAt(layout, 'notes', 6)];
  smashPages(file, damaged.map((leaf) => leaf.page));

  const result = rebuildBoard(file, path.join(dir, 'out.db'));
  const lost = damaged.reduce((sum, leaf) => sum + leaf.cells, 0);
  const notes = result.tables.notes!;
  t.is(notes.recovered, 2000 - lost);
  t.true(notes.lostEstimated);
  // Rows of one size fill every leaf alike but the last: the estimate is within a row per damaged leaf.
  t.true(notes.lost !== null && Math.abs(notes.lost - lost) <= damaged.length, `estimated ${notes.lost}, lost ${lost}`);
});

test('rebuild of a file with an unreadable header yields an empty, healthy db and schema errors', (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board);
  smashPages(board, [1]);
  const out = path.join(dir, 'out.db');
  const result = rebuildBoard(board, out);
  t.deepEqual(result.tables, {});
  t.true(result.schemaErrors.some((error) => error.startsWith('sqlite_master unreadable')));
  t.is(probeIntegrity(out, { full: true }).status, 'ok');
});

test('rebuild refuses to write over an existing file', (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board);
  const out = path.join(dir, 'out.db');
  fs.writeFileSync(out, 'precious');
  t.throws(() => rebuildBoard(board, out), { message: /already exists/ });
  t.is(fs.readFileSync(out, 'utf8'), 'precious');
});

test('installRebuilt swaps the rebuilt file in atomically once the old sidecars are moved aside', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board);
  smashPages(board, [leafAt(layout, 'task_events', 10).page]);
  const rebuilt = path.join(dir, 'kanban.db.rebuilt');
  const result = rebuildBoard(board, rebuilt);
  // A read-only probe of the rebuilt file leaves its own -wal/-shm behind; install folds them away.
  t.is(probeIntegrity(rebuilt).status, 'ok');
  t.true(fs.existsSync(`${rebuilt}-shm`));

  fs.writeFileSync(`${board}-wal`, 'old generation');
  t.throws(() => installRebuilt(rebuilt, board), { message: /aside/ });
  t.true(fs.existsSync(rebuilt));
  await moveAsideSidecars(board, path.join(dir, 'aside'), 'rebuild');

  const before = fs.statSync(board);
  const incoming = fs.statSync(rebuilt);
  installRebuilt(rebuilt, board);
  const after = fs.statSync(board);
  t.not(after.ino, before.ino);
  t.is(after.ino, incoming.ino);
  t.false(fs.existsSync(rebuilt));
  for (const suffix of ['-wal', '-shm']) {
    t.false(fs.existsSync(`${board}${suffix}`));
    t.false(fs.existsSync(`${rebuilt}${suffix}`));
  }
  t.is(probeIntegrity(board, { full: true }).status, 'ok');
  const db = new Database(board, { readonly: true });
  t.teardown(() => db.close());
  t.is(db.prepare('SELECT count(*) FROM task_events').pluck().get(), result.tables.task_events!.recovered);
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
});

test('rebuild and install keep a rollback-journal board in rollback mode, and a WAL board in WAL', async (t) => {
  const dir = tempDir(t);
  for (const journal of ['delete', 'wal'] as const) {
    const board = path.join(dir, `${journal}.db`);
    const layout = makeBoard(board, journal);
    smashPages(board, [leafAt(layout, 'task_events', 10).page]);
    const rebuilt = path.join(dir, `${journal}.db.rebuilt`);
    rebuildBoard(board, rebuilt, { journal });
    t.is(journalModeOf(rebuilt), journal, `${journal}: the rebuilt file`);
    // The read-only rebuild of a WAL board leaves its -wal/-shm behind.
    await moveAsideSidecars(board, path.join(dir, 'aside'), 'rebuild');
    installRebuilt(rebuilt, board, { journal });
    for (const suffix of ['-wal', '-shm', '-journal']) t.false(fs.existsSync(`${board}${suffix}`), `${journal}: no ${suffix} left`);
    t.deepEqual(journalBytes(board), journal === 'wal' ? [2, 2] : [1, 1]);
    t.is(journalModeOf(board), journal, `${journal}: the installed board`);
  }
});

test('a hot -journal of the old board is quarantined with it and moved aside before the new file is installed', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const layout = makeBoard(board, 'delete');
  smashPages(board, [leafAt(layout, 'task_events', 10).page]);
  fs.writeFileSync(`${board}-journal`, 'hot journal of the old file');
  const qdir = path.join(dir, 'quarantine');
  const copy = await quarantineBoard(board, { dir: qdir, slug: 'default', keep: 5 });
  t.deepEqual(copy.files.map((file) => path.basename(file)).sort(), [path.basename(copy.path), `${path.basename(copy.path)}-journal`]);
  t.is(fs.readFileSync(`${copy.path}-journal`, 'utf8'), 'hot journal of the old file');
  t.is(copy.hash, sha12([copy.path, `${copy.path}-journal`]));

  const rebuilt = path.join(dir, 'kanban.db.rebuilt');
  fs.renameSync(`${board}-journal`, `${board}.held-journal`);
  rebuildBoard(board, rebuilt, { journal: 'delete' });
  fs.renameSync(`${board}.held-journal`, `${board}-journal`);
  t.throws(() => installRebuilt(rebuilt, board, { journal: 'delete' }), { message: /kanban\.db-journal aside/ });
  const moved = await moveAsideSidecars(board, path.join(dir, 'aside'), 'corrupt');
  t.deepEqual(moved.map((file) => path.extname(file)), ['.journal']);
  installRebuilt(rebuilt, board, { journal: 'delete' });
  t.false(fs.existsSync(`${board}-journal`));
  t.is(probeIntegrity(board, { full: true }).status, 'ok');
});

test('installRebuilt refuses a file in another directory', (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  makeBoard(board);
  fs.mkdirSync(path.join(dir, 'elsewhere'));
  const other = path.join(dir, 'elsewhere', 'kanban.db');
  makeBoard(other);
  const before = fs.statSync(board).ino;
  t.throws(() => installRebuilt(other, board), { message: /must be in/ });
  t.is(fs.statSync(board).ino, before);
});

// checkpoint -------------------------------------------------------------------------------------

const WAL_WITH_PINNED_READER = `
import sqlite3, sys
path = sys.argv[1]
writer = sqlite3.connect(path, isolation_level=None)
writer.execute('PRAGMA journal_mode=WAL')
writer.execute('PRAGMA wal_autocheckpoint=0')
writer.execute('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
def fill(n):
    writer.execute('BEGIN')
    for i in range(n):
        writer.execute('INSERT INTO notes (body) VALUES (?)', ('x' * 1000,))
    writer.execute('COMMIT')
fill(2000)
reader = sqlite3.connect(path, isolation_level=None)
reader.execute('BEGIN')
reader.execute('SELECT count(*) FROM notes').fetchone()
fill(500)
print('ready', flush=True)
sys.stdin.readline()
reader.execute('COMMIT')
print('released', flush=True)
sys.stdin.read()
`;

test('passiveCheckpoint reports WAL frames, stops at a pinned reader and never truncates', async (t) => {
  const dir = tempDir(t);
  const board = path.join(dir, 'kanban.db');
  const holder = Holder.start(t, WAL_WITH_PINNED_READER, [board]);
  await holder.expect('ready');

  const walBefore = walSize(board);
  t.true(walBefore > 2_000_000);
  const pinned = passiveCheckpoint(board);
  t.log(`pinned: ${JSON.stringify(pinned)}, wal ${walBefore} bytes`);
  t.true(pinned.logFrames > 0);
  t.true(pinned.checkpointed > 0);
  t.true(pinned.checkpointed < pinned.logFrames);
  t.is(walSize(board), walBefore);

  holder.send('release');
  await holder.expect('released');
  const free = passiveCheckpoint(board);
  t.log(`released: ${JSON.stringify(free)}`);
  t.is(free.checkpointed, free.logFrames);
  t.is(walSize(board), walBefore);
  await holder.finish();
});

test('walNeedsCheckpoint compares the WAL size with the limit', (t) => {
  t.true(walNeedsCheckpoint(64 * 1024 * 1024 + 1, 64 * 1024 * 1024));
  t.false(walNeedsCheckpoint(64 * 1024 * 1024, 64 * 1024 * 1024));
  t.false(walNeedsCheckpoint(0, 1024));
  t.false(walNeedsCheckpoint(10 ** 12, 0));
});

// filesystem -------------------------------------------------------------------------------------

test('filesystemOf names the local filesystem under the temp dir', (t) => {
  const dir = tempDir(t);
  const info = filesystemOf(path.join(dir, 'kanban.db'));
  t.log(info);
  t.false(info.network);
  t.false(info.type.startsWith('unknown'));
  t.deepEqual(filesystemOf(dir), info);
});

test('the filesystem map flags network and user-space filesystems', (t) => {
  const network: Array<[number, string]> = [
    [0x6969, 'nfs'],
    [0x517b, 'smb'],
    [0xff534d42, 'cifs'],
    [0xfe534d42, 'smb2'],
    [0x65735546, 'fuse'],
    [0x01021997, '9p'],
    [0x73757245, 'coda'],
    [0x5346414f, 'afs'],
    [0x00c36400, 'ceph'],
  ];
  for (const [magic, name] of network) {
    t.true(isNetworkFs(magic), name);
    t.is(fsTypeName(magic), name);
  }
  const local: Array<[number, string]> = [
    [0xef53, 'ext4'],
    [0x58465342, 'xfs'],
    [0x9123683e, 'btrfs'],
    [0x01021994, 'tmpfs'],
    [0x794c7630, 'overlay'],
    [0x2fc12fc1, 'zfs'],
    [0xf2f52010, 'f2fs'],
  ];
  for (const [magic, name] of local) {
    t.false(isNetworkFs(magic), name);
    t.is(fsTypeName(magic), name);
  }
  // f_type read as a signed 32-bit word.
  t.true(isNetworkFs(0xff534d42 | 0));
  t.is(fsTypeName(0x12345678), 'unknown(0x12345678)');
});
