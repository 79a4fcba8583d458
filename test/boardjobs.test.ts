import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { readBoardIdentities, readProcStat, type Holder } from '../src/board/index.js';
import type { GatewayState, WaveRequest, WaveResult } from '../src/fleet/index.js';
import { BoardBusyError, BoardJobs, planFence, type BoardRecord, type JobGateway, type TiedHolder } from '../src/steward/index.js';
import { newBoardRecord } from '../src/steward/record.js';
import { ownProcesses } from './helpers/proc.js';
import { tempDir } from './helpers/tempDir.js';
import { poll, until } from './helpers/wait.js';

/** A gateway stand-in backed by a real process in its own group: freezing and stopping it are real. */
class ProcessGateway implements JobGateway {
  state: GatewayState;
  pid: number | null = null;
  startedAt: number | null = null;
  readonly holds = new Set<string>();
  /** The process's state (from /proc) when stop() was called: 'T' once frozen. */
  stateAtStop: string | null = null;
  private exited: Promise<unknown> = Promise.resolve();

  constructor(
    t: ExecutionContext,
    readonly name: string,
    grant: boolean,
    running = true,
  ) {
    this.profile = { grant };
    this.state = running ? 'running' : 'stopped';
    if (!running) return;
    const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
    this.pid = child.pid!;
    this.startedAt = Date.now();
    this.exited = once(child, 'exit');
    // A teardown long after must not hit the pid reused by another test's group.
    ownProcesses(t)(child.pid!, { group: true });
  }

  readonly profile: { grant: boolean };

  get held(): boolean {
    return this.holds.size > 0;
  }

  hold(reason: string): void {
    this.holds.add(reason);
  }

  release(reason: string): void {
    this.holds.delete(reason);
  }

  async stop(): Promise<void> {
    if (this.pid === null) {
      this.state = 'stopped';
      return;
    }
    const pid = this.pid;
    // SIGSTOP is delivered asynchronously: wait until /proc shows it, or give up and record what it shows.
    this.stateAtStop = await poll(() => readProcStat(pid)?.state ?? null, (state) => state === 'T', 5000, 5);
    this.state = 'stopping';
    process.kill(-pid, 'SIGCONT');
    process.kill(-pid, 'SIGTERM');
    await this.exited;
    this.pid = null;
    this.state = 'stopped';
  }
}

class RecordingWaves {
  readonly requests: WaveRequest[] = [];

  request(request: WaveRequest): Promise<WaveResult> {
    this.requests.push(request);
    const profiles = [...request.profiles];
    return Promise.resolve({ boards: [], profiles, reasons: [request.reason], restarted: profiles, failed: [], vetoed: [], skipped: [], durationMs: 0 });
  }
}

function board(t: ExecutionContext): BoardRecord {
  const file = path.join(tempDir(t, 'hs-jobs-'), 'kanban.db');
  const db = new Database(file);
  db.exec('CREATE TABLE tasks(id INTEGER PRIMARY KEY)');
  db.close();
  return newBoardRecord({ slug: 'default', path: file }, readBoardIdentities(file));
}

function setup(t: ExecutionContext, gateways: ProcessGateway[]) {
  const waves = new RecordingWaves();
  const restats: Array<string | null> = [];
  const jobs = new BoardJobs({
    fleet: { gateways: new Map(gateways.map((gateway) => [gateway.name, gateway])) },
    waves,
    restat: (record) => restats.push(record.job),
  });
  return { jobs, waves, restats, record: board(t) };
}

const alive = (pid: number) => readProcStat(pid) !== null && readProcStat(pid)?.state !== 'Z';

test('a board job freezes, stops and holds the granted gateways, works with them down, and brings back those that ran', async (t) => {
  const writer = new ProcessGateway(t, 'writer', true);
  const reader = new ProcessGateway(t, 'reader', true);
  const denied = new ProcessGateway(t, 'denied', false);
  const unstarted = new ProcessGateway(t, 'unstarted', true, false);
  const { jobs, waves, restats, record } = setup(t, [writer, reader, denied, unstarted]);
  const pids = { writer: writer.pid!, reader: reader.pid!, denied: denied.pid! };
  const outcome = await jobs.run(record, {
    name: 'test job',
    hold: 'test hold',
    fence: true,
    reason: 'test',
    work: async (worked, stopped) => {
      t.is(worked.job, 'test job');
      t.deepEqual(stopped.sort(), ['reader', 'unstarted', 'writer']);
      t.false(alive(pids.writer));
      t.false(alive(pids.reader));
      t.true(alive(pids.denied));
      for (const gateway of [writer, reader, unstarted]) t.true(gateway.holds.has('test hold'));
      return 42;
    },
  });
  t.is(outcome.result, 42);
  t.is(writer.stateAtStop, 'T');
  t.is(reader.stateAtStop, 'T');
  // The re-stat ran while the job was still in hand, so a swap it finds is the job's own.
  t.deepEqual(restats, ['test job']);
  t.is(record.job, null);
  for (const gateway of [writer, reader, unstarted]) t.false(gateway.held);
  t.is(waves.requests.length, 1);
  t.deepEqual([...waves.requests[0]!.profiles].sort(), ['reader', 'writer']);
  t.deepEqual([...(waves.requests[0]!.mandatory ?? [])].sort(), ['reader', 'writer']);
  t.like(waves.requests[0], { reason: 'test', board: 'default', immediate: true });
  t.truthy(outcome.wave);
});

test('a second job on a busy board is refused, never run beside the first', async (t) => {
  const { jobs, record } = setup(t, [new ProcessGateway(t, 'writer', true)]);
  let finish!: () => void;
  const first = jobs.run(record, { name: 'first', hold: 'h', fence: true, reason: 'r', work: () => new Promise<void>((resolve) => (finish = resolve)) });
  await until('the first job to start its work', () => finish !== undefined);
  let ran = false;
  const error = await t.throwsAsync(
    jobs.run(record, { name: 'second', hold: 'h', fence: true, reason: 'r', work: async () => void (ran = true) }),
    { instanceOf: BoardBusyError },
  );
  t.regex(error!.message, /board "default" is busy \(first\)/);
  t.false(ran);
  finish();
  await first;
  await jobs.run(record, { name: 'third', hold: 'h', fence: true, reason: 'r', work: async () => void (ran = true) });
  t.true(ran);
});

test('a job asked for while a staged init runs beside the gateways waits for it, then fences and runs', async (t) => {
  const writer = new ProcessGateway(t, 'writer', true);
  const { jobs, record } = setup(t, [writer]);
  let finish!: () => void;
  const order: string[] = [];
  const staged = jobs.run(record, {
    name: 'kanban init',
    hold: 'h',
    fence: false,
    reason: 'swap',
    work: () => new Promise<void>((resolve) => (finish = resolve)).then(() => void order.push('staged')),
  });
  await until('the staged init to start its work', () => finish !== undefined);
  const operator = jobs.run(record, { name: 'kanban init', hold: 'h', fence: true, reason: 'kanban.init', work: async (_, stopped) => void order.push(`operator ${stopped.join()}`) });
  // The operator's job is neither refused nor started while the staged one works.
  const early = await Promise.race([operator.then(() => 'settled', () => 'refused'), new Promise((resolve) => setImmediate(() => resolve('waiting')))]);
  t.is(early, 'waiting');
  t.true(alive(writer.pid!));
  finish();
  await staged;
  const outcome = await operator;
  t.deepEqual(order, ['staged', 'operator writer']);
  t.deepEqual(outcome.profiles, ['writer']);
  t.is(record.job, null);
});

test('a job that leaves the board held keeps its gateways down and asks for no wave', async (t) => {
  const writer = new ProcessGateway(t, 'writer', true);
  const { jobs, waves, record } = setup(t, [writer]);
  const outcome = await jobs.run(record, { name: 'hold', hold: 'corruption', fence: true, reason: 'r', work: async () => 'bad', heldFor: () => 'corrupt: stopped' });
  t.is(outcome.wave, null);
  t.is(record.heldFor, 'corrupt: stopped');
  t.true(writer.holds.has('corruption'));
  t.is(writer.state, 'stopped');
  t.deepEqual(waves.requests, []);
  await t.throwsAsync(jobs.run(record, { name: 'next', hold: 'h', fence: true, reason: 'r', work: async () => undefined }), {
    instanceOf: BoardBusyError,
    message: /corrupt: stopped/,
  });
});

test('a job whose work throws still releases its gateways and brings them back', async (t) => {
  const writer = new ProcessGateway(t, 'writer', true);
  const { jobs, waves, record } = setup(t, [writer]);
  await t.throwsAsync(
    jobs.run(record, {
      name: 'failing',
      hold: 'h',
      fence: true,
      reason: 'r',
      work: async () => {
        throw new Error('disk on fire');
      },
    }),
    { message: 'disk on fire' },
  );
  t.false(writer.held);
  t.is(record.job, null);
  t.deepEqual(waves.requests.map((request) => [...request.profiles]), [['writer']]);
});

test('a job that runs beside the gateways (an in-place migration) stops nothing', async (t) => {
  const writer = new ProcessGateway(t, 'writer', true);
  const { jobs, waves, record } = setup(t, [writer]);
  const pid = writer.pid!;
  await jobs.run(record, { name: 'migrate', hold: 'h', fence: false, reason: 'r', work: async () => t.true(alive(pid)) });
  t.true(alive(pid));
  t.is(writer.state, 'running');
  t.deepEqual(waves.requests, []);
});

const holder = (owner: string, pid: number, generation: number, role: Holder['role'] = 'db'): Holder => ({ owner, pid, board: 'default', generation, role, via: 'fd' });

test('planFence fences holders of an older generation, never a current one or one already stopping', (t) => {
  const plan = planFence({
    holders: [holder('old', 100, 1), holder('old', 101, 1), holder('fresh', 200, 2), holder('leaving', 300, 1), holder('escaped', 400, 1)],
    board: 'default',
    generation: 2,
    fleet: new Map([
      ['old', { pid: 100, stopping: false }],
      ['fresh', { pid: 200, stopping: false }],
      ['leaving', { pid: 300, stopping: true }],
      ['escaped', { pid: 390, stopping: false }],
    ]),
    // 101 is in its gateway's group; 400 left the group of gateway 390 (a double fork into a new session).
    groupOf: new Map([
      [100, 100],
      [101, 100],
      [200, 200],
      [300, 300],
      [400, 400],
    ]),
    tied: [],
    ties: new Map(),
    keyOf: () => undefined,
  });
  t.deepEqual(plan.profiles, ['old', 'escaped']);
  t.deepEqual(plan.freeze, [
    { pid: 100, group: true },
    { pid: 390, group: true },
    { pid: 400, group: false },
  ]);
  t.deepEqual(plan.outsiders, [{ pid: 400, owner: 'escaped' }]);
});

test('planFence fences a stale holder that escaped a gateway already stopping: it would outlive that stop', (t) => {
  const plan = planFence({
    holders: [holder('leaving', 300, 1), holder('leaving', 500, 1)],
    board: 'default',
    generation: 2,
    fleet: new Map([['leaving', { pid: 300, stopping: true }]]),
    // 500 is a kanban worker in a session of its own, spawned by the gateway that is on its way out.
    groupOf: new Map([
      [300, 300],
      [500, 500],
    ]),
    tied: [],
    ties: new Map(),
    keyOf: () => undefined,
  });
  t.deepEqual(plan.profiles, []);
  t.deepEqual(plan.freeze, [{ pid: 500, group: false }]);
  t.deepEqual(plan.outsiders, [{ pid: 500, owner: 'leaving' }]);
});

test('planFence marks sidecars of unknown generation held by a stale holder as old, and those of a current holder as not', (t) => {
  const plan = planFence({
    holders: [holder('old', 100, 1), holder('old', 100, 0, 'wal'), holder('fresh', 200, 2), holder('fresh', 200, 0, 'shm')],
    board: 'default',
    generation: 2,
    fleet: new Map([
      ['old', { pid: 100, stopping: false }],
      ['fresh', { pid: 200, stopping: false }],
    ]),
    groupOf: new Map([
      [100, 100],
      [200, 200],
    ]),
    tied: [],
    ties: new Map(),
    keyOf: (row) => (row.role === 'wal' ? '1:11' : row.role === 'shm' ? '1:12' : undefined),
  });
  t.deepEqual([...plan.staleKeys], ['1:11']);
  t.deepEqual(plan.profiles, ['old']);
});

const tied = (pid: number, generation: number, tie: TiedHolder['tie']): TiedHolder => ({ ...holder(`pid:python3`, pid, generation), tie });

test('planFence fences marked holders outside the gateways\' trees with their gateway, and stale workers on their own', (t) => {
  const plan = planFence({
    // 101 is a kanban worker still a child of gateway 100, on the old file; gateway 100 itself holds nothing.
    holders: [holder('alpha', 101, 1), holder('beta', 200, 2)],
    tied: [
      // A double fork of gateway 200 on the old file, one of a gateway long gone, and one on the new file.
      tied(600, 1, { kind: 'marked', from: 'gateway', gatewayPid: 200 }),
      tied(601, 1, { kind: 'marked', from: 'gateway', gatewayPid: 999 }),
      tied(602, 2, { kind: 'marked', from: 'gateway', gatewayPid: 200 }),
      // A hook's run on the old file is bounded by its own timeout.
      tied(603, 1, { kind: 'marked', from: 'hook', gatewayPid: null }),
      // Workers: one on the old file, one on the new.
      tied(700, 1, { kind: 'worker', task: 't-old', runId: '4' }),
      tied(701, 2, { kind: 'worker', task: 't-new', runId: '5' }),
    ],
    board: 'default',
    generation: 2,
    fleet: new Map([
      ['alpha', { pid: 100, stopping: false }],
      ['beta', { pid: 200, stopping: false }],
    ]),
    groupOf: new Map([
      [101, 101],
      [200, 200],
    ]),
    ties: new Map([[101, { kind: 'worker', task: 't-child', runId: null }]]),
    keyOf: () => undefined,
  });
  t.deepEqual(plan.profiles, ['beta'], 'the escapee\'s gateway, not the worker\'s');
  t.deepEqual(plan.outsiders, [
    { pid: 600, owner: 'beta' },
    { pid: 601, owner: null },
  ]);
  t.deepEqual(plan.workers, [
    { pid: 101, task: 't-child', runId: null },
    { pid: 700, task: 't-old', runId: '4' },
  ]);
  t.deepEqual(plan.freeze, [
    { pid: 200, group: true },
    { pid: 600, group: false },
    { pid: 601, group: false },
    { pid: 101, group: false },
    { pid: 700, group: false },
  ]);
});
