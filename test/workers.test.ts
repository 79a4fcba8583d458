import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ageSeconds, parseBootTime, scanWorkers, selectWorkers, workerBoard, workerProfile, type ProcessFacts } from '../src/board/index.js';
import { STATE_DIR_MARK } from '../src/hermes/index.js';
import { PGID_MARK } from '../src/proc/index.js';
import type { StatusReport } from '../src/control/index.js';
import { startFleet } from './helpers/fleet.js';
import { python } from './helpers/fixture.js';
import { ownProcesses } from './helpers/proc.js';
import { until } from './helpers/wait.js';

const STATE = '/srv/hermes-supervisor';

function facts(pid: number, ppid: number, env: Record<string, string>, pgrp = pid): ProcessFacts {
  return { pid, ppid, pgrp, startTime: 1000 + pid, env: new Map(Object.entries(env)) };
}

const workerEnv = (task: string, run: string, extra: Record<string, string> = {}) => ({
  [STATE_DIR_MARK]: STATE,
  HERMES_KANBAN_TASK: task,
  HERMES_KANBAN_RUN_ID: run,
  HERMES_HOME: '/h/profiles/alpha',
  HERMES_KANBAN_DB: '/h/kanban.db',
  ...extra,
});

test('selectWorkers keeps this fleet\'s workers, not their children, other fleets\' or unmarked processes', (t) => {
  const workers = selectWorkers(
    [
      facts(10, 1, workerEnv('t1', '7')),
      // A tool the worker runs inherits its task and run: part of the worker, not one more.
      facts(11, 10, workerEnv('t1', '7'), 10),
      // Spawned by gateway 5 in a session of its own: it inherited the gateway's PGID mark.
      facts(5, 1, { [STATE_DIR_MARK]: STATE, [PGID_MARK]: '5' }),
      facts(20, 5, workerEnv('t2', '8', { [PGID_MARK]: '5' })),
      // A gateway (its PGID mark is its group) given a task mark by the supervisor's own environment.
      facts(6, 1, workerEnv('t0', '1', { [PGID_MARK]: '6' })),
      // Another supervisor's fleet, and a Hermes worker no supervisor started.
      facts(30, 1, workerEnv('t3', '9', { [STATE_DIR_MARK]: '/other/state' })),
      facts(40, 1, { HERMES_KANBAN_TASK: 't4' }),
      // A worker that spawned a worker for another task: both count.
      facts(50, 10, workerEnv('t5', '10')),
    ],
    STATE,
  );
  t.deepEqual(
    workers.map((w) => [w.pid, w.task, w.runId]),
    [
      [10, 't1', '7'],
      [20, 't2', '8'],
      [50, 't5', '10'],
    ],
  );
  t.deepEqual(workers[0], { pid: 10, task: 't1', runId: '7', home: '/h/profiles/alpha', db: '/h/kanban.db', startTime: 1010 });
});

test('selectWorkers gives null for a worker without a run id, home or board path', (t) => {
  const [worker] = selectWorkers([facts(10, 1, { [STATE_DIR_MARK]: STATE, HERMES_KANBAN_TASK: 't1' })], STATE);
  t.like(worker, { task: 't1', runId: null, home: null, db: null });
});

test('parseBootTime reads the btime line of /proc/stat and nothing else', (t) => {
  t.is(parseBootTime('cpu  1 2 3\nintr 5\nctxt 99\nbtime 1764460800\nprocesses 42\n'), 1764460800);
  t.is(parseBootTime('cpu  1 2 3\nctxt 99\n'), null);
  t.is(parseBootTime('xbtime 12\n'), null);
});

test('ageSeconds counts from boot plus the start ticks, never below zero', (t) => {
  t.is(ageSeconds(12_345, 1_000_000, (1_000_000 + 123.45 + 60) * 1000), 60);
  t.is(ageSeconds(500, 1_000_000, 1_000_000 * 1000), 0);
});

test('workerProfile names a known profile, the default for the Hermes root, else the home\'s folder', (t) => {
  const profiles = [{ name: 'alpha', home: '/h/profiles/alpha' }];
  t.is(workerProfile('/h/profiles/alpha/', profiles, '/h'), 'alpha');
  t.is(workerProfile('/h', profiles, '/h'), 'default');
  t.is(workerProfile('/h/profiles/beta', profiles, '/h'), 'beta');
  t.is(workerProfile(null, profiles, '/h'), null);
});

test('workerBoard names a known board by slug and an unknown one by its path', (t) => {
  const boards = [{ slug: 'default', path: '/h/kanban.db' }, { slug: 'ops', path: '/h/kanban/boards/ops/kanban.db' }];
  t.is(workerBoard('/h/kanban/boards/../boards/ops/kanban.db', boards), 'ops');
  t.is(workerBoard('/elsewhere/kanban.db', boards), '/elsewhere/kanban.db');
  t.is(workerBoard(null, boards), null);
});

test('scanWorkers finds a live marked process in /proc and skips one of another state dir', async (t) => {
  const start = (state: string, task: string) =>
    spawn(python, ['-c', 'import time; time.sleep(600)'], {
      env: { ...process.env, [STATE_DIR_MARK]: state, HERMES_KANBAN_TASK: task, HERMES_KANBAN_RUN_ID: '3' },
      stdio: 'ignore',
    });
  const state = `/tmp/workers-scan-${process.pid}`;
  const ours = start(state, 'scan-1');
  const theirs = start(`${state}-other`, 'scan-2');
  const own = ownProcesses(t);
  own(ours.pid!);
  own(theirs.pid!);
  const found = await until('the marked process in /proc', () => {
    const workers = scanWorkers(state);
    return workers.length > 0 && workers;
  });
  t.deepEqual(
    found.map((w) => [w.pid, w.task, w.runId]),
    [[ours.pid, 'scan-1', '3']],
  );
});

/** Asks the fixture gateway in `home` to do something (read and deleted within ~50 ms). */
function requestFixture(home: string, request: string): void {
  const file = path.join(home, '.fixture-request');
  writeFileSync(`${file}.tmp`, request);
  renameSync(`${file}.tmp`, file);
}

/** The pid of the first worker a fixture gateway logged spawning (a `spawn` line), if any yet. */
function spawnedWorker(log: string): number | undefined {
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  for (const line of text.split('\n')) {
    // A line still being written reads torn: skip it, it is whole on the next read.
    const event = line.startsWith('{') && line.endsWith('}') ? (JSON.parse(line) as { event?: string; worker?: number }) : {};
    if (event.event === 'spawn' && typeof event.worker === 'number') return event.worker;
  }
  return undefined;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('status lists a gateway\'s kanban worker under its board, and still does after a wave restarts the gateway', async (t) => {
  const fleet = await startFleet(t, {
    prefix: 'workers-',
    board: true,
    profiles: { alpha: { args: ['--mode', 'idle', '--interval-ms', '50'], config: { kanban: { enabled: true, dispatch_in_gateway: true } } } },
  });
  // Workers outlive their gateway on purpose: nothing else stops them.
  const own = ownProcesses(t);
  const status = async (): Promise<StatusReport> => JSON.parse((await fleet.cli('status', '--json')).stdout) as StatusReport;
  const gateway = (report: StatusReport) => report.profiles.find((profile) => profile.name === 'alpha')?.pid ?? null;

  requestFixture(path.join(fleet.hermesHome, 'profiles', 'alpha'), 'worker job-1');
  const worker = await until('the worker spawn in the gateway log', () => spawnedWorker(path.join(fleet.logsDir, 'alpha.jsonl')));
  own(worker);

  const before = await until('the worker in status', async () => {
    const report = await status();
    return report.workers.length > 0 && report;
  });
  t.like(before.workers, [{ board: 'default', task: 'job-1', profile: 'alpha', pid: worker }]);
  t.is(typeof before.workers[0]!.run_id, 'string');
  t.true(before.workers[0]!.age_s >= 0);
  const text = await fleet.cli('status');
  t.regex(text.stdout, /job-1/);
  t.regex(text.stdout, new RegExp(`\\b${worker}\\b`));

  const restarted = await fleet.cli('restart', 'alpha');
  t.is(restarted.code, 0, restarted.stderr);
  const after = await status();
  t.not(gateway(after), gateway(before), 'the wave started a new gateway');
  t.true(isAlive(worker), 'the worker outlived its gateway');
  t.like(after.workers, [{ board: 'default', task: 'job-1', profile: 'alpha', pid: worker, run_id: before.workers[0]!.run_id }]);
});

test('status says so when no worker is alive', async (t) => {
  const fleet = await startFleet(t, { prefix: 'workers-none-', board: true, profiles: { alpha: { mode: 'idle', grant: true } } });
  const report = JSON.parse((await fleet.cli('status', '--json')).stdout) as StatusReport;
  t.deepEqual(report.workers, []);
  t.regex((await fleet.cli('status')).stdout, /^workers: none$/m);
});
