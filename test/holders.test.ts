import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { boardFiles, fileKey, readBoardIdentities, readIdentity, sameIdentity } from '../src/board/identity.js';
import {
  encodeDev,
  openFiles,
  parseProcStat,
  processStartTime,
  processTree,
  readProcStat,
} from '../src/board/proc.js';
import {
  auditHolders,
  classifyHolders,
  findForeignHolders,
  type Holder,
  type HolderTarget,
} from '../src/board/holders.js';
import { python } from './helpers/fixture.js';
import { brisk, startFleet } from './helpers/fleet.js';
import { ownProcesses } from './helpers/proc.js';
import { tempDir } from './helpers/tempDir.js';

// A stand-in for a gateway: holds a board open in WAL mode the way Hermes's stdlib sqlite3 does.
//   hold <db> [comm]         hold it (optionally renaming its own comm)
//   group|session|orphan <db> start a grandchild that holds it: in the same process group, in a new
//                             session, or double-forked so it is reparented but stays in the group
//   mapped-only <db>          hold it, and fork a child that closes every inherited fd but keeps the
//                             -shm mapping (the child is the one reported)
// Each prints "ready <pid of the holder>" once the connection is open, the WAL written and -shm mapped.
const HOLDER_PY = `
import os, sqlite3, subprocess, sys, time

def hold(db):
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    conn.execute('PRAGMA journal_mode=WAL')
    conn.execute('CREATE TABLE IF NOT EXISTS t(x)')
    conn.execute('INSERT INTO t VALUES (1)')
    return conn

def ready(pid):
    print('ready', pid, flush=True)

def linger():
    time.sleep(120)  # outlives any test; the tests kill it long before

mode, db = sys.argv[1], sys.argv[2]
if mode == 'hold':
    if len(sys.argv) > 3:
        with open('/proc/self/comm', 'w') as f:
            f.write(sys.argv[3])
    conn = hold(db)
    ready(os.getpid())
    linger()
elif mode == 'mapped-only':
    conn = hold(db)
    if os.fork() == 0:
        os.closerange(3, 65536)
        ready(os.getpid())
        linger()
        os._exit(0)
    linger()
elif mode == 'fork-hold':
    if os.fork() == 0:
        conn = hold(db)
        ready(os.getpid())
        linger()
    os._exit(0)
else:
    argv = [sys.executable, __file__, 'fork-hold' if mode == 'orphan' else 'hold', db]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, start_new_session=(mode == 'session'))
    line = child.stdout.readline().decode()
    if mode == 'orphan':
        child.wait()
    sys.stdout.write(line)
    sys.stdout.flush()
    linger()
`;

interface Started {
  /** The process we spawned: its own process group leader, like a gateway. */
  leader: number;
  /** The process that holds the board (the leader itself, or its grandchild). */
  holder: number;
}

/** Starts the holder script detached (its own process group) and kills everything it made on teardown. */
async function startHolder(t: ExecutionContext, dir: string, args: string[]): Promise<Started> {
  const script = path.join(dir, 'holder.py');
  if (!fs.existsSync(script)) fs.writeFileSync(script, HOLDER_PY);
  const child = spawn('python3', [script, ...args], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(() => exited);
  const own = ownProcesses(t);
  const leader = own(child.pid!, { group: true });
  const holder = own(await readyPid(child));
  return { leader, holder };
}

function readyPid(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`holder not ready: ${out}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /ready (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`holder exited (${code}) before ready: ${out}`));
    });
  });
}

/** The board's current files as audit targets of one generation. */
function targetsOf(dbPath: string, board: string, generation: number): HolderTarget[] {
  const ids = readBoardIdentities(dbPath);
  const targets: HolderTarget[] = [];
  for (const role of ['db', 'wal', 'shm'] as const) {
    const id = ids[role];
    if (id !== null) targets.push({ key: fileKey(id.dev, id.ino), board, generation, role });
  }
  return targets;
}

function rolesOf(holders: Holder[], pid: number): string[] {
  return holders
    .filter((h) => h.pid === pid)
    .map((h) => h.role)
    .sort();
}

test('rm + recreate changes the identity even when the inode number comes back', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'kanban.db');
  fs.writeFileSync(file, 'first');
  const before = readIdentity(file);
  fs.rmSync(file);
  fs.writeFileSync(file, 'second');
  const after = readIdentity(file);
  t.not(before, null);
  t.not(after, null);
  t.false(sameIdentity(before, after));
  t.true(sameIdentity(after, readIdentity(file)));
  if (before!.ino === after!.ino) t.not(before!.birthtimeMs, after!.birthtimeMs);
});

test('rename over the board changes the identity to the renamed file', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'kanban.db');
  const incoming = path.join(dir, 'new.db');
  fs.writeFileSync(file, 'old');
  fs.writeFileSync(incoming, 'new');
  const before = readIdentity(file);
  const replacement = readIdentity(incoming);
  fs.renameSync(incoming, file);
  const after = readIdentity(file);
  t.false(sameIdentity(before, after));
  t.true(sameIdentity(replacement, after));
});

test('missing files read as null, through a missing dir or a file used as a dir', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'plain');
  fs.writeFileSync(file, '');
  t.is(readIdentity(path.join(dir, 'absent.db')), null);
  t.is(readIdentity(path.join(file, 'kanban.db')), null);
  t.true(sameIdentity(null, null));
  t.false(sameIdentity(null, readIdentity(file)));
  t.deepEqual(boardFiles('/b/kanban.db'), { db: '/b/kanban.db', wal: '/b/kanban.db-wal', shm: '/b/kanban.db-shm', journal: '/b/kanban.db-journal' });
  t.deepEqual(readBoardIdentities(path.join(dir, 'absent.db')), { db: null, wal: null, shm: null, journal: null });
});

test('a gateway holding a board is found on db, wal and shm; the shm also through its mapping', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gw = await startHolder(t, dir, ['hold', db]);
  const targets = targetsOf(db, 'main', 1);
  t.is(targets.length, 3);

  const audit = auditHolders(targets, [{ owner: 'alpha', pid: gw.leader }]);
  t.deepEqual(rolesOf(audit.holders, gw.holder), ['db', 'shm', 'wal']);
  t.true(audit.holders.every((h) => h.owner === 'alpha' && h.board === 'main' && h.generation === 1));
  t.true(audit.scanned >= 1);
  t.true(audit.durationMs >= 0);

  const shmKey = targets.find((x) => x.role === 'shm')!.key;
  const shm = openFiles(gw.holder, new Set([shmKey]));
  t.true(shm.some((f) => f.via === 'maps' && f.key === shmKey));
  t.true(shm.some((f) => f.via === 'fd' && typeof f.fd === 'number'));
  t.false(openFiles(gw.holder, new Set([shmKey]), { maps: false }).some((f) => f.via === 'maps'));
});

test('a process that kept only the -shm mapping is found when the audit reads maps', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gw = await startHolder(t, dir, ['mapped-only', db]);
  const targets = targetsOf(db, 'main', 1);
  t.is(readProcStat(gw.holder)?.ppid, gw.leader);

  const fast = auditHolders(targets, [{ owner: 'eta', pid: gw.leader }]);
  t.deepEqual(rolesOf(fast.holders, gw.leader), ['db', 'shm', 'wal']);
  t.deepEqual(rolesOf(fast.holders, gw.holder), []);

  const thorough = auditHolders(targets, [{ owner: 'eta', pid: gw.leader }], { maps: true });
  t.deepEqual(rolesOf(thorough.holders, gw.leader), ['db', 'shm', 'wal']);
  t.deepEqual(
    thorough.holders.filter((h) => h.pid === gw.holder).map((h) => [h.role, h.via, h.owner]),
    [['shm', 'maps', 'eta']],
  );
  const foreign = findForeignHolders(targets, new Set([process.pid, gw.leader]), { maps: true });
  t.deepEqual(foreign.filter((h) => h.pid === gw.holder).map((h) => h.role), ['shm']);
});

test('a mapping of a file that only shares a remembered inode number is no holder: the birthtime tells them apart', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gw = await startHolder(t, dir, ['mapped-only', db]);
  const shm = readBoardIdentities(db).shm!;
  const target = { key: fileKey(shm.dev, shm.ino), board: 'main', generation: 1, role: 'shm' as const };
  const owners = [{ owner: 'eta', pid: gw.leader }];
  const mapped = (birthtimeMs: number) =>
    auditHolders([{ ...target, birthtimeMs }], owners, { maps: true }).holders.filter((h) => h.pid === gw.holder && h.via === 'maps');
  t.is(mapped(shm.birthtimeMs).length, 1, 'the file remembered under that key');
  // The key remembered for a file deleted since, whose inode number ext4 gave to this one.
  t.deepEqual(mapped(shm.birthtimeMs - 60_000), []);
  t.deepEqual(findForeignHolders([{ ...target, birthtimeMs: shm.birthtimeMs - 60_000 }], new Set([process.pid, gw.leader]), { maps: true }), []);
});

test('after rm + recreate the old holder holds the old keys only, and is classified stale', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const old = await startHolder(t, dir, ['hold', db]);
  const generation1 = targetsOf(db, 'main', 1);
  const oldIdentity = readIdentity(db);

  for (const file of Object.values(boardFiles(db))) fs.rmSync(file, { force: true });
  const fresh = await startHolder(t, dir, ['hold', db]);
  const generation2 = targetsOf(db, 'main', 2);
  t.false(sameIdentity(oldIdentity, readIdentity(db)));

  const audit = auditHolders([...generation1, ...generation2], [
    { owner: 'alpha', pid: old.leader },
    { owner: 'beta', pid: fresh.leader },
  ]);
  const alpha = audit.holders.filter((h) => h.owner === 'alpha');
  const beta = audit.holders.filter((h) => h.owner === 'beta');
  t.deepEqual(rolesOf(alpha, old.holder), ['db', 'shm', 'wal']);
  t.true(alpha.every((h) => h.generation === 1));
  t.deepEqual(rolesOf(beta, fresh.holder), ['db', 'shm', 'wal']);
  t.true(beta.every((h) => h.generation === 2));

  const { stale, current } = classifyHolders(audit.holders, new Map([['main', 2]]));
  t.deepEqual(new Set(stale.map((h) => h.pid)), new Set([old.holder]));
  t.deepEqual(new Set(current.map((h) => h.pid)), new Set([fresh.holder]));
});

test('a grandchild in the gateway group is found under that gateway, not another', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gamma = await startHolder(t, dir, ['group', db]);
  const delta = await startHolder(t, dir, ['hold', db]);
  t.not(gamma.holder, gamma.leader);
  t.is(readProcStat(gamma.holder)?.pgrp, gamma.leader);

  const trees = processTree([gamma.leader, delta.leader]);
  t.true(trees.get(gamma.leader)!.includes(gamma.holder));
  t.false(trees.get(delta.leader)!.includes(gamma.holder));

  const audit = auditHolders(targetsOf(db, 'main', 1), [
    { owner: 'gamma', pid: gamma.leader },
    { owner: 'delta', pid: delta.leader },
  ]);
  t.deepEqual(rolesOf(audit.holders, gamma.holder), ['db', 'shm', 'wal']);
  t.true(audit.holders.filter((h) => h.pid === gamma.holder).every((h) => h.owner === 'gamma'));
  t.true(audit.holders.filter((h) => h.pid === delta.holder).every((h) => h.owner === 'delta'));
});

test('a descendant that moved to its own session is found through the parent chain', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gw = await startHolder(t, dir, ['session', db]);
  t.not(readProcStat(gw.holder)?.pgrp, gw.leader);
  t.is(readProcStat(gw.holder)?.ppid, gw.leader);

  const audit = auditHolders(targetsOf(db, 'main', 1), [{ owner: 'epsilon', pid: gw.leader }]);
  t.deepEqual(rolesOf(audit.holders, gw.holder), ['db', 'shm', 'wal']);
});

test('a group member reparented by a double fork is found through the process group', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gw = await startHolder(t, dir, ['orphan', db]);
  const stat = readProcStat(gw.holder);
  t.is(stat?.pgrp, gw.leader);
  t.not(stat?.ppid, gw.leader);

  const audit = auditHolders(targetsOf(db, 'main', 1), [{ owner: 'zeta', pid: gw.leader }]);
  t.deepEqual(rolesOf(audit.holders, gw.holder), ['db', 'shm', 'wal']);
  t.true(audit.holders.every((h) => h.owner === 'zeta'));
});

test('pids that vanished read as empty, never as errors', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gw = await startHolder(t, dir, ['hold', db]);
  const targets = targetsOf(db, 'main', 1);
  const wanted = new Set(targets.map((x) => x.key));
  t.true(openFiles(gw.holder, wanted).length > 0);

  const child = spawn('python3', ['-c', 'pass'], { stdio: 'ignore' });
  const dead = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));

  t.deepEqual(processTree([dead]).get(dead), []);
  t.deepEqual(openFiles(dead, wanted), []);
  t.is(processStartTime(dead), null);
  t.is(readProcStat(dead), null);
  const audit = auditHolders(targets, [
    { owner: 'gone', pid: dead },
    { owner: 'alpha', pid: gw.leader },
  ]);
  t.true(audit.holders.every((h) => h.owner === 'alpha'));
  t.deepEqual(rolesOf(audit.holders, gw.holder), ['db', 'shm', 'wal']);

  // Processes appearing and exiting all through the scan: the audit still completes and finds the holder.
  const churn = spawn('sh', ['-c', 'while :; do /bin/true; done'], { detached: true, stdio: 'ignore' });
  ownProcesses(t)(churn.pid!, { group: true });
  for (let i = 0; i < 20; i++) {
    const foreign = findForeignHolders(targets, new Set([process.pid]));
    t.true(foreign.some((h) => h.pid === gw.holder));
  }
});

test('processStartTime and parseProcStat read field 22 and a comm holding spaces and parentheses', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const gw = await startHolder(t, dir, ['hold', db, 'gw) S 1 (x']);
  const stat = readProcStat(gw.holder);
  t.is(stat?.comm, 'gw) S 1 (x');
  t.is(stat?.pgrp, gw.leader);
  t.is(stat?.ppid, process.pid);
  const started = processStartTime(gw.holder);
  t.true(started !== null && started >= processStartTime(process.pid)!);

  const fields = Array.from({ length: 20 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[1] = '7';
  fields[2] = '9';
  const parsed = parseProcStat(42, `42 (a (b) c) ${fields.join(' ')}`);
  t.deepEqual(parsed, { pid: 42, comm: 'a (b) c', state: 'S', ppid: 7, pgrp: 9, startTime: 22 });
  t.is(parseProcStat(42, '42 (truncated'), null);
});

test('findForeignHolders reports a holder outside the fleet by pid and comm, and honours exclusions', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'kanban.db');
  const shell = await startHolder(t, dir, ['hold', db, 'kanban shell']);
  const targets = targetsOf(db, 'main', 3);

  const foreign = findForeignHolders(targets, new Set([process.pid]));
  const mine = foreign.filter((h) => h.pid === shell.holder);
  t.deepEqual(mine.map((h) => h.role).sort(), ['db', 'shm', 'wal']);
  t.true(mine.every((h) => h.owner === 'pid:kanban shell' && h.generation === 3));

  const excluded = findForeignHolders(targets, new Set([process.pid, shell.holder]));
  t.false(excluded.some((h) => h.pid === shell.holder));
});

test('maps device numbers convert to the st_dev that stat reports', (t) => {
  t.is(encodeDev(0xfe, 0x00), 65024);
  t.is(encodeDev(0, 0x1b), 27);
  // Both halves past their low bits, checked against makedev done in BigInt.
  const major = 0x1234n;
  const minor = 0x56789n;
  const expected =
    (minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n);
  t.is(encodeDev(Number(major), Number(minor)), Number(expected));

  // Every file this process maps, as stat sees it through its path.
  let checked = 0;
  for (const line of fs.readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    const match = /^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+) +(\/.*)$/.exec(line);
    if (!match || match[3] === '0' || match[4]!.endsWith(' (deleted)')) continue;
    const st = fs.statSync(match[4]!);
    t.is(fileKey(encodeDev(parseInt(match[1]!, 16), parseInt(match[2]!, 16)), Number(match[3])), fileKey(st.dev, st.ino));
    checked++;
  }
  t.true(checked > 0);
});

test('classifyHolders: only an older generation of a known board is stale', (t) => {
  const holder = (pid: number, board: string, generation: number): Holder => ({
    owner: 'p',
    pid,
    board,
    generation,
    role: 'db',
    via: 'fd',
  });
  const holders = [holder(1, 'main', 1), holder(2, 'main', 2), holder(3, 'ops', 1), holder(4, 'main', 3)];
  const { stale, current } = classifyHolders(holders, new Map([['main', 2]]));
  t.deepEqual(stale.map((h) => h.pid), [1]);
  t.deepEqual(current.map((h) => h.pid), [2, 3, 4]);
  t.deepEqual(classifyHolders([], new Map()), { stale: [], current: [] });
});

test('check reads the maps too: a gateway process that kept only the -shm mapping is listed', async (t) => {
  const dir = tempDir(t);
  const script = path.join(dir, 'holder.py');
  fs.writeFileSync(script, HOLDER_PY);
  const fleet = await startFleet(t, { board: true, config: brisk(), profiles: { mapper: { grant: true, command: (board) => [python, script, 'mapped-only', board] } } });
  const check = await fleet.cli('check', '--json');
  t.is(check.code, 0, check.stderr);
  const holders = (JSON.parse(check.stdout) as { holders: Holder[] }).holders.filter((holder) => holder.owner === 'mapper');
  t.true(holders.some((holder) => holder.role === 'shm' && holder.via === 'maps'), JSON.stringify(holders));
  t.true(holders.some((holder) => holder.role === 'db' && holder.via === 'fd'));
});
