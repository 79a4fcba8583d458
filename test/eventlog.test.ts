import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { EventLog } from '../src/events/index.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { tempDir } from './helpers/tempDir.js';

const seqsIn = (file: string): number[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { seq: number }).seq);

/**
 * An upper bound on the bytes of one `test.tick` line written now. Its clocks (`ts_ms`, and `mono_ms`,
 * which grows with uptime) make the length vary, so sizes in these tests are counted in lines.
 */
function tickLineBytes(t: ExecutionContext): number {
  const probe = new EventLog(tempDir(t, 'hs-eventlog-'));
  probe.emit('test.tick', { seq: 1_000_000 });
  // Room for more digits in the clocks' fractions than this line happened to get.
  return fs.statSync(probe.file).size + 8;
}

test('the event log rotates by size, keeps logs.keep files and never splits an event', (t) => {
  const fleet = makeFleetDir(t);
  const maxBytes = 12 * tickLineBytes(t);
  const events = new EventLog(fleet.stateDir, { maxBytes, keep: 3 });
  for (let seq = 0; seq < 200; seq++) events.emit('test.tick', { seq });

  const live = path.join(fleet.stateDir, 'events.jsonl');
  const files = [`${live}.3`, `${live}.2`, `${live}.1`, live];
  for (const file of files) t.true(fs.statSync(file).size <= maxBytes, `${path.basename(file)} is within the size`);
  t.false(fs.existsSync(`${live}.4`), 'no more than keep rotated files');
  const kept = files.flatMap(seqsIn);
  t.is(kept.at(-1), 199, 'the newest event is in the live file');
  t.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => 200 - kept.length + i), 'oldest to newest, none missing between');
  t.true(kept.length < 200, 'the oldest events were dropped with the oldest file');
});

test('a new event log picks up the size of the file it appends to', (t) => {
  const fleet = makeFleetDir(t);
  const maxBytes = 8 * tickLineBytes(t);
  const first = new EventLog(fleet.stateDir, { maxBytes, keep: 2 });
  for (let seq = 0; seq < 5; seq++) first.emit('test.tick', { seq });
  const second = new EventLog(fleet.stateDir, { maxBytes, keep: 2 });
  for (let seq = 5; seq < 30; seq++) second.emit('test.tick', { seq });
  const live = path.join(fleet.stateDir, 'events.jsonl');
  t.true(fs.statSync(live).size <= maxBytes);
  t.true(fs.existsSync(`${live}.1`));
});

test('events -n reaches into the rotated files when the live one is short', async (t) => {
  const fleet = makeFleetDir(t);
  const configFile = fleet.config({ gateway: { command: ['/bin/true'] } });
  // Eight lines a file: the last 20 of 40 events span the live file and rotated ones, all kept.
  const events = new EventLog(fleet.stateDir, { maxBytes: 8 * tickLineBytes(t), keep: 5 });
  for (let seq = 0; seq < 40; seq++) events.emit('test.tick', { seq });
  t.true(fs.existsSync(path.join(fleet.stateDir, 'events.jsonl.1')), 'the log has rotated');

  const result = await runCli(['events', '--json', '-n', '20', '--config', configFile]);
  t.is(result.code, 0, result.stderr);
  const seqs = result.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq);
  t.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => 20 + i));

  const none = await runCli(['events', '-n', '0', '--config', configFile]);
  t.is(none.code, 0, none.stderr);
  t.is(none.stdout, '');
});

test('events -f prints every event once and in order while the log rotates under it', async (t) => {
  const fleet = makeFleetDir(t);
  const configFile = fleet.config({ gateway: { command: ['/bin/true'] } });
  // Six lines a file and four a batch: a batch rotates the log at most once.
  const events = new EventLog(fleet.stateDir, { maxBytes: 6 * tickLineBytes(t), keep: 2 });
  events.emit('test.before', { seq: -1 });
  const follower = spawnCli(['events', '-f', '--json', '-n', '1', '--config', configFile]);
  t.teardown(() => follower.child.kill('SIGKILL'));
  await follower.waitFor('"seq":-1');

  // Small batches, each seen before the next: at most one rotation between two reads of the follower.
  // Batches go on until the log has rotated three times (bounded, should rotation never happen).
  const live = path.join(fleet.stateDir, 'events.jsonl');
  let rotations = 0;
  let seq = 0;
  for (let batch = 0; batch < 50 && rotations < 3; batch++) {
    const before = fs.statSync(live).ino;
    for (let i = 0; i < 4; i++) events.emit('test.tick', { seq: seq++ });
    if (fs.statSync(live).ino !== before) rotations++;
    await follower.waitFor(`"seq":${seq - 1}}`);
  }
  t.true(rotations >= 3, `the log rotated ${rotations} times while followed`);

  follower.child.kill('SIGINT');
  const exit = await follower.exited;
  t.is(exit.code, 0);
  const printed = follower
    .output()
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { seq: number }).seq);
  t.deepEqual(printed, [-1, ...Array.from({ length: seq }, (_, i) => i)]);
});

test('events shows a torn line as it is instead of failing', async (t) => {
  const fleet = makeFleetDir(t);
  const configFile = fleet.config({ gateway: { command: ['/bin/true'] } });
  new EventLog(fleet.stateDir).emit('test.tick', { seq: 1 });
  fs.appendFileSync(path.join(fleet.stateDir, 'events.jsonl'), '{"ts":"2026-11-22T\n');
  const result = await runCli(['events', '--config', configFile]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /test\.tick seq=1/);
  t.true(result.stdout.includes('{"ts":"2026-11-22T'));
});

test('events -f leaves a line still being written until its newline, then prints it whole', async (t) => {
  const fleet = makeFleetDir(t);
  const configFile = fleet.config({ gateway: { command: ['/bin/true'] } });
  new EventLog(fleet.stateDir).emit('test.tick', { seq: 1 });
  const live = path.join(fleet.stateDir, 'events.jsonl');
  // What a reader sees in the middle of an append: the first part of the next event.
  fs.appendFileSync(live, '{"ts":"2026-11-30T12:00:00.000Z","type":"test.tick",');
  const follower = spawnCli(['events', '-f', '--json', '-n', '5', '--config', configFile]);
  t.teardown(() => follower.child.kill('SIGKILL'));
  await follower.waitFor('"seq":1}');
  fs.appendFileSync(live, '"seq":2}\n');
  await follower.waitFor('"seq":2}');
  follower.child.kill('SIGINT');
  t.is((await follower.exited).code, 0);
  const seqs = follower
    .output()
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { seq: number }).seq);
  t.deepEqual(seqs, [1, 2]);
});
