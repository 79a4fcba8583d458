import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { isWalResetVulnerable, noCandidates, parseMappedLibraries, parseSqliteVersion, pickVersion, scanChunk, SqliteRuntimes } from '../src/sqlite/index.js';
import type { CheckReport, StatusReport } from '../src/control/index.js';
import { integrityCheck } from './helpers/board.js';
import { ofType } from './helpers/events.js';
import { python } from './helpers/fixture.js';
import { brisk, startFleet } from './helpers/fleet.js';
import { tempDir } from './helpers/tempDir.js';
import { poll } from './helpers/wait.js';

/** This machine's python3 SQLite: what the fixture gateways run, so what the tests expect. */
const pythonSqlite = execFileSync(python, ['-c', 'import sqlite3; print(sqlite3.sqlite_version)'], { encoding: 'utf8' }).trim();
const pythonVulnerable = isWalResetVulnerable(parseSqliteVersion(pythonSqlite)!);

/** Header bytes 18/19 of a board: 1/1 rollback journal, 2/2 WAL. */
const headerBytes = (file: string): string => {
  const bytes = readFileSync(file).subarray(18, 20);
  return `${bytes[0]}/${bytes[1]}`;
};

test('the WAL-reset rule: 3.7.0 to 3.51.2 are vulnerable, except the 3.44.6 and 3.50.7 backports', (t) => {
  const cases: Array<[string, boolean]> = [
    ['3.6.23', false],
    ['3.6.0', false],
    ['3.7.0', true],
    ['3.40.1', true],
    ['3.44.5', true],
    ['3.44.6', false],
    ['3.44.9', false],
    ['3.45.0', true],
    ['3.50.6', true],
    ['3.50.7', false],
    ['3.51.0', true],
    ['3.51.2', true],
    ['3.51.3', false],
    ['3.53.2', false],
    ['4.0.0', false],
  ];
  for (const [text, vulnerable] of cases) t.is(isWalResetVulnerable(parseSqliteVersion(text)!), vulnerable, text);
  t.deepEqual(parseSqliteVersion('3.40.1.2'), [3, 40, 1]);
  t.is(parseSqliteVersion('3.x'), null);
});

test('the version string nearest to the source id wins; the FTS5 copy of the id is not taken, and a string at a chunk edge is taken once', (t) => {
  const id = '2022-12-28 14:03:47 df5c253c0b3dd24916e4ec7cf77d3db5294cc9fd45ae7b9c5e82ad8197f3alt1';
  const text = `\u0000fts5: ${id}\u0000${'x'.repeat(200)}\u00003.1.2\u0000${'y'.repeat(300)}\u0000${id}\u0000\u0001\u00003.40.1\u0000`;
  const found = noCandidates();
  // Two overlapping chunks, as the reader hands them over.
  const cut = text.indexOf('3.40.1');
  scanChunk(text.slice(0, cut + 128), 0, found);
  scanChunk(text.slice(cut), cut, found);
  t.is([...found.versions.values()].filter((version) => version === '3.40.1').length, 1);
  t.deepEqual(pickVersion(found), { version: '3.40.1', sourceId: id });
  t.is(pickVersion(noCandidates()), null, 'no source id: no SQLite in the file');
});

test('maps lines name the SQLite-carrying files once each', (t) => {
  const maps = [
    '7f00-7f10 r--p 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6',
    '7f10-7f20 r-xp 00010000 08:01 1234 /usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6',
    '7f20-7f30 r--p 00000000 08:01 99 /opt/py/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so (deleted)',
    '7f30-7f40 r--p 00000000 08:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6',
    '7f40-7f50 rw-s 00000000 00:1f 55 /tmp/board/kanban.db-shm',
  ].join('\n');
  t.deepEqual(
    parseMappedLibraries(maps).map((library) => [library.path, library.ino]),
    [
      ['/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6', 1234],
      ['/opt/py/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so', 99],
    ],
  );
});

test('the SQLite version of a live python3 holding a database is read from the library it mapped', async (t) => {
  const db = path.join(tempDir(t, 'hs-walreset-'), 'probe.db');
  const child = spawn(python, ['-c', 'import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); print("open", flush=True); time.sleep(600)', db], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  await once(child.stdout!, 'data');
  const runtimes = new SqliteRuntimes();
  const sqlite = await runtimes.of(child.pid!);
  t.truthy(sqlite);
  t.deepEqual(
    sqlite!.libraries.map((library) => library.version),
    [pythonSqlite],
    JSON.stringify(sqlite),
  );
  t.is(sqlite!.vulnerable, pythonVulnerable);
  t.is(await runtimes.of(child.pid!), sqlite, 'read once per process');
  t.is(runtimes.known(child.pid!), sqlite);
});

test('a WAL board held on a vulnerable SQLite shows in status, check and one event; journal-mode delete takes it out of WAL with its gateways back', async (t) => {
  const fleet = await startFleet(t, {
    prefix: 'hs-walreset-',
    board: true,
    config: brisk({ health: { audit_interval: '1s' } }),
    // `--journal delete` never changes a board's mode itself, so only the switch does.
    profiles: { writer: { grant: true, args: ['--mode', 'hold', '--interval-ms', '100', '--journal', 'delete'] }, denied: { grant: false, args: ['--mode', 'idle'] } },
  });
  t.is(headerBytes(fleet.board), '2/2');
  const status = async () => JSON.parse((await fleet.cli('status', '--json')).stdout) as StatusReport;
  const riskOf = (report: StatusReport) => report.boards[0]!.wal_reset_risk;
  const writerPid = (await poll(status, (report) => report.profiles.find((profile) => profile.name === 'writer')?.pid != null)).profiles.find((p) => p.name === 'writer')!.pid!;
  const checked = await fleet.cli('check', '--json');
  const report = JSON.parse(checked.stdout) as CheckReport;
  if (pythonVulnerable) {
    t.like(report.wal_reset_risk[0], { board: 'default', holder: 'writer', pid: writerPid, sqlite: [pythonSqlite] });
    t.is(report.wal_reset_risk.length, 1, JSON.stringify(report.wal_reset_risk));
    t.regex((await fleet.cli('check')).stdout, new RegExp(`WAL-RESET RISK: board default is in WAL mode and writer \\(pid ${writerPid}\\) runs SQLite ${pythonSqlite.replace(/\./g, '\\.')}`));
    const seen = await poll(status, (now) => riskOf(now).length > 0);
    t.like(riskOf(seen)[0], { holder: 'writer', pid: writerPid, sqlite: [pythonSqlite] });
    const events = await fleet.waitForEvent((all) => ofType(all, 'board.wal_reset_risk').length > 0);
    t.like(ofType(events, 'board.wal_reset_risk')[0], { board: 'default', holder: 'writer', pid: writerPid, sqlite: [pythonSqlite] });
  } else {
    t.deepEqual(report.wal_reset_risk, []);
  }

  const same = await fleet.cli('kanban', 'journal-mode', 'default', 'wal');
  t.is(same.code, 0, same.stderr);
  t.regex(same.stdout, /already in wal mode \(header bytes 18\/19 2\/2\); nothing was stopped/);

  // A refusal for a process outside the fleet is right while it holds the board; one that was
  // gone by the next look (a process passing through, on a loaded host) is asked again.
  const switchTo = async (mode: 'delete' | 'wal', ...flags: string[]) => {
    for (let attempt = 1; ; attempt++) {
      const result = await fleet.cli('kanban', 'journal-mode', 'default', mode, ...flags);
      const outsider = /held by \S+ \(pid (\d+)\) outside the fleet/.exec(result.stderr);
      if (result.code === 0 || outsider === null || attempt === 5 || existsSync(`/proc/${outsider[1]}`)) return result;
    }
  };
  const toDelete = await switchTo('delete');
  t.is(toDelete.code, 0, toDelete.stderr + toDelete.stdout);
  t.regex(toDelete.stdout, /board default: journal mode wal -> delete \(header bytes 18\/19 1\/1\), integrity ok/);
  t.regex(toDelete.stdout, /gateways back: writer$/m);
  t.is(headerBytes(fleet.board), '1/1');
  t.is(integrityCheck(fleet.board), 'ok');
  const events = fleet.events();
  t.deepEqual(ofType(events, 'kanban.journal_mode.start')[0]!.profiles, ['writer']);
  t.like(ofType(events, 'kanban.journal_mode.done')[0], { board: 'default', ok: true, mode: 'delete', header: '1/1', integrity: 'ok' });
  t.is(ofType(events, 'gateway.spawn', 'denied').length, 1, 'a denied gateway is left running');
  const after = await poll(status, (now) => now.profiles.find((profile) => profile.name === 'writer')?.state === 'running' && riskOf(now).length === 0 && now.boards[0]!.journal_mode === 'delete');
  t.is(after.boards[0]!.journal_mode, 'delete');
  t.deepEqual(riskOf(after), []);

  const toWal = await switchTo('wal');
  if (pythonVulnerable) {
    t.is(toWal.code, 1, toWal.stdout);
    t.is(toWal.stderr.trim().split('\n').length, 1, toWal.stderr);
    t.regex(toWal.stderr, new RegExp(`refusing WAL on board "default": writer \\(pid \\d+, SQLite ${pythonSqlite.replace(/\./g, '\\.')}\\) runs an SQLite with the WAL-reset bug .*--force switches anyway`));
    t.is(headerBytes(fleet.board), '1/1', 'nothing was switched');
    t.like(ofType(fleet.events(), 'kanban.journal_mode.refused')[0], { board: 'default', to: 'wal' });
  } else {
    t.is(toWal.code, 0, toWal.stderr);
  }
  const forced = await switchTo('wal', '--force');
  t.is(forced.code, 0, forced.stderr + forced.stdout);
  t.is(headerBytes(fleet.board), '2/2');
  t.is(integrityCheck(fleet.board), 'ok');

  if (pythonVulnerable) {
    // Back on WAL, the restarted writer is a new holder at risk: reported once, however many audits ran.
    const risks = ofType((await fleet.waitForEvent((all) => ofType(all, 'board.wal_reset_risk').length >= 2)), 'board.wal_reset_risk');
    const pids = risks.map((event) => event.pid);
    t.deepEqual(pids, [...new Set(pids)], 'one event per holder process');
    t.not(pids[1], writerPid);
  }

  const unknown = await fleet.cli('kanban', 'journal-mode', 'nope', 'delete');
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown board "nope"; known: default/);
  const badMode = await fleet.cli('kanban', 'journal-mode', 'default', 'truncate');
  t.is(badMode.code, 2);
  t.regex(badMode.stderr, /expected the mode delete or wal, got "truncate"/);
});
