import { spawn } from 'node:child_process';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { processStartTime, readIdentity, readProcStat, tiedOwner, tieOf } from '../src/board/index.js';
import type { CheckReport } from '../src/control/index.js';
import { STATE_DIR_MARK } from '../src/hermes/index.js';
import { KIND_MARK, PGID_MARK } from '../src/proc/index.js';
import { catchesSignal, stopFrozenWorker } from '../src/steward/workerStop.js';
import { initBoard, swaps } from './helpers/board.js';
import { ofType } from './helpers/events.js';
import { fixture, python } from './helpers/fixture.js';
import { brisk, startFleet } from './helpers/fleet.js';
import { readGatewayLog, writesOf, type GatewayEvent, type SpawnEvent } from './helpers/gatewayLog.js';
import { ownProcesses, processEnv } from './helpers/proc.js';
import { tempDir } from './helpers/tempDir.js';
import { until, within } from './helpers/wait.js';

const STATE = '/srv/hermes-supervisor';

test('tieOf tells a kanban worker, a marked process and a foreign one apart', (t) => {
  const env = (vars: Record<string, string>) => new Map(Object.entries(vars));
  const gateway = { [STATE_DIR_MARK]: STATE, [KIND_MARK]: 'gateway', [PGID_MARK]: '40' };
  t.deepEqual(tieOf(env({ ...gateway, HERMES_KANBAN_TASK: 't1', HERMES_KANBAN_RUN_ID: '7' }), 51, STATE), { kind: 'worker', task: 't1', runId: '7' });
  // A double fork into a session of its own: the gateway's PGID mark names the gateway.
  t.deepEqual(tieOf(env(gateway), 52, STATE), { kind: 'marked', from: 'gateway', gatewayPid: 40 });
  // Still in the gateway's group, a task mark inherited from the supervisor does not make a worker.
  t.deepEqual(tieOf(env({ ...gateway, HERMES_KANBAN_TASK: 't1' }), 40, STATE), { kind: 'marked', from: 'gateway', gatewayPid: 40 });
  // A hook's leader names no gateway.
  t.deepEqual(tieOf(env({ [STATE_DIR_MARK]: STATE, [KIND_MARK]: 'hook', [PGID_MARK]: '60' }), 60, STATE), { kind: 'marked', from: 'hook', gatewayPid: null });
  t.deepEqual(tieOf(env({ [STATE_DIR_MARK]: STATE }), 53, STATE), { kind: 'marked', from: null, gatewayPid: null });
  t.is(tieOf(env({ ...gateway, [STATE_DIR_MARK]: '/other/state' }), 52, STATE), null);
  t.is(tieOf(env({ HERMES_KANBAN_TASK: 't1' }), 54, STATE), null);
});

test('tiedOwner names a worker by its task, a marked process by its running gateway, else by its command', (t) => {
  const gatewayOf = (pid: number) => (pid === 40 ? 'alpha' : undefined);
  t.is(tiedOwner({ kind: 'worker', task: 't1', runId: '7' }, 'python3', gatewayOf), 'worker:t1');
  t.is(tiedOwner({ kind: 'marked', from: 'gateway', gatewayPid: 40 }, 'python3', gatewayOf), 'alpha');
  t.is(tiedOwner({ kind: 'marked', from: 'gateway', gatewayPid: 41 }, 'python3', gatewayOf), 'marked:python3');
  t.is(tiedOwner({ kind: 'marked', from: 'hook', gatewayPid: null }, 'python3', gatewayOf), 'marked:python3');
});

test('catchesSignal reads the SigCgt mask of /proc/<pid>/status', (t) => {
  const status = (mask: string) => `Name:\tpython3\nSigIgn:\t0000000001001000\nSigCgt:\t${mask}\nCapInh:\t0\n`;
  t.true(catchesSignal(status('0000000180004002'), 15));
  t.false(catchesSignal(status('0000000180000002'), 15));
  t.true(catchesSignal(status('0000000180000002'), 2));
  t.is(catchesSignal('Name:\tx\n', 15), null);
});

test('stopFrozenWorker ends a frozen worker without ever running its code again: SIGTERM when uncaught, else SIGKILL', async (t) => {
  const dir = tempDir(t, 'hs-worker-stop-');
  const own = ownProcesses(t);
  const ran = path.join(dir, 'handler-ran');
  // Prints once its handler (if any) is installed, so the freeze never lands before it.
  const start = (catches: boolean) => {
    const code = catches
      ? `import signal, sys, time\ndef h(*_):\n    open(sys.argv[1], 'w').close()\n    sys.exit(0)\nsignal.signal(signal.SIGTERM, h)\nprint('ready', flush=True)\ntime.sleep(600)\n`
      : `import time\nprint('ready', flush=True)\ntime.sleep(600)\n`;
    const child = spawn(python, ['-c', code, ran], { stdio: ['ignore', 'pipe', 'ignore'] });
    own(child.pid!);
    return new Promise<number>((resolve) => child.stdout!.once('data', () => resolve(child.pid!)));
  };
  for (const [catches, signal] of [
    [false, 'SIGTERM'],
    [true, 'SIGKILL'],
  ] as const) {
    const pid = await start(catches);
    const startTime = processStartTime(pid)!;
    process.kill(pid, 'SIGSTOP');
    await until('the process to stop', () => readProcStat(pid)?.state === 'T');
    const stop = await stopFrozenWorker(pid, startTime);
    t.deepEqual(stop, { signal, result: signal === 'SIGTERM' ? 'term' : 'kill' });
    t.false(runs(pid, startTime));
  }
  t.false(existsSync(ran), 'the SIGTERM handler never ran');
  t.deepEqual(await stopFrozenWorker(process.pid, -1), { signal: null, result: 'gone' }, 'another start time is another process: never signalled');
});

/** Asks the fixture gateway in `home` to do something (read and deleted within ~50 ms). */
function requestFixture(home: string, request: string): void {
  const file = path.join(home, '.fixture-request');
  writeFileSync(`${file}.tmp`, request);
  renameSync(`${file}.tmp`, file);
}

const escapees = (log: GatewayEvent[]) => log.flatMap((line) => (line.event === 'escape' ? [line.escapee] : []));
const spawns = (log: GatewayEvent[]) => log.filter((line): line is SpawnEvent => line.event === 'spawn');

/** Whether the process started at `startTime` as `pid` still runs (a zombie does not). */
function runs(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.startTime === startTime && stat.state !== 'Z';
}

/** The pids that wrote each row of the board's task_events. */
function rowWriters(board: string): number[] {
  const db = new Database(board, { readonly: true, timeout: 10_000 });
  try {
    return (db.prepare('SELECT payload FROM task_events').all() as Array<{ payload: string }>).map((row) => (JSON.parse(row.payload) as { pid: number }).pid);
  } finally {
    db.close();
  }
}

const escaping = { args: ['--mode', 'idle', '--escape-child', '--interval-ms', '50'], grant: true };

test.serial('a double-forked holder carrying the supervisor\'s marks is fenced on a swap: nothing more goes into the old file', async (t) => {
  const fleet = await startFleet(t, { prefix: 'hs-escape-', board: true, profiles: { alpha: escaping }, config: brisk() });
  const own = ownProcesses(t);
  const escapee = await until('the escapee', () => escapees(fleet.log('alpha'))[0]);
  own(escapee);
  const startTime = processStartTime(escapee)!;
  const gateway = ofType(fleet.events(), 'gateway.spawn')[0]!.pid as number;
  t.not(readProcStat(escapee)!.pgrp, gateway, 'the escapee left its gateway\'s group');
  t.not(readProcStat(escapee)!.ppid, gateway, 'and no parent links it to its gateway');
  const oldIno = readIdentity(fleet.board)!.ino;
  await until('the escapee writing into the board', () => writesOf(fleet.log('alpha')).some((write) => write.pid === escapee && write.ino === oldIno));

  // `check` lists it as the gateway's own holder, not as one outside the fleet.
  const check = JSON.parse((await fleet.cli('check', '--json')).stdout) as CheckReport;
  t.like(check.holders.find((holder) => holder.pid === escapee), { owner: 'alpha', board: 'default' });
  t.false(check.foreign.some((holder) => holder.pid === escapee));

  swaps.renameOver(fleet.board);
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1);
  const fence = ofType(events, 'board.fence')[0]!;
  t.deepEqual(fence.profiles, ['alpha'], 'its gateway is stopped with it and restarted');
  t.true((fence.pids as number[]).includes(escapee), `the escapee is fenced: ${JSON.stringify(fence.pids)}`);
  t.deepEqual(ofType(events, 'board.foreign_holders'), [], 'a marked process is no foreign holder');
  await until('the escapee to be killed', () => !runs(escapee, startTime));

  const late = writesOf(fleet.log('alpha')).filter((write) => write.pid === escapee && write.ts_ms >= (fence.ts_ms as number));
  t.deepEqual(late, [], 'no write acknowledged by the escapee after the fence');
  // The restarted gateway's own escapee writes into the new file; the new board holds its rows only.
  const newIno = readIdentity(fleet.board)!.ino;
  const next = await until('the new escapee', () => escapees(fleet.log('alpha'))[1]);
  own(next);
  await until('the new escapee writing into the new file', () => writesOf(fleet.log('alpha')).some((write) => write.pid === next && write.ino === newIno));
  const writers = new Set(rowWriters(fleet.board));
  t.false(writers.has(escapee), 'no row of the old escapee in the new board');
  t.deepEqual([...writers], [next]);
});

test.serial('a clean shutdown stops a double-forked marked descendant of a gateway, never its kanban worker', async (t) => {
  const fleet = await startFleet(t, {
    prefix: 'hs-escape-stop-',
    board: true,
    profiles: { alpha: { ...escaping, grant: undefined, config: { kanban: { enabled: true, dispatch_in_gateway: true } } } },
    config: brisk(),
  });
  const own = ownProcesses(t);
  const escapee = await until('the escapee', () => escapees(fleet.log('alpha'))[0]);
  own(escapee);
  const escapeeStart = processStartTime(escapee)!;
  await until('the escapee writing into the board', () => writesOf(fleet.log('alpha')).some((write) => write.pid === escapee));
  requestFixture(path.join(fleet.hermesHome, 'profiles', 'alpha'), 'worker job-1');
  const worker = await until('the worker', () => spawns(fleet.log('alpha'))[0]?.worker);
  own(worker);
  const workerStart = processStartTime(worker)!;

  fleet.supervisor.child.kill('SIGTERM');
  const exit = await within(fleet.supervisor.exited, 'the supervisor\'s exit after SIGTERM');
  t.is(exit.code, 0);
  await until('the escapee to be stopped', () => !runs(escapee, escapeeStart));
  t.false(runs(escapee, escapeeStart));
  t.true(runs(worker, workerStart), 'the kanban worker outlives its gateway');
});

test.serial('a swap stops a kanban worker on the old file, naming its task, and leaves one on the new file running', async (t) => {
  const fleet = await startFleet(t, {
    prefix: 'hs-escape-workers-',
    board: true,
    profiles: {
      alpha: { args: ['--mode', 'idle', '--interval-ms', '50', '--worker-holds'], config: { kanban: { enabled: true, dispatch_in_gateway: true } } },
    },
    config: brisk(),
  });
  const own = ownProcesses(t);
  const oldIno = readIdentity(fleet.board)!.ino;
  requestFixture(path.join(fleet.hermesHome, 'profiles', 'alpha'), 'worker job-old');
  const stale = await until('the worker on the old file', () => spawns(fleet.log('alpha'))[0]?.worker);
  own(stale);
  const staleStart = processStartTime(stale)!;
  const runId = String(spawns(fleet.log('alpha'))[0]!.run_id);
  await until('the worker holding the old file', () => writesOf(fleet.log('alpha')).some((write) => write.pid === stale && write.ino === oldIno));

  // A worker of the same fleet (same marks) already on the file that is about to replace the board.
  const next = `${fleet.board}.new`;
  initBoard(next, 'delete');
  const freshLog = path.join(fleet.logsDir, 'fresh.jsonl');
  const fresh = spawn(python, [fixture, '--mode', 'worker', '--worker-holds', '--journal', 'delete', '--interval-ms', '50', '--db', next, '--log', freshLog], {
    env: { ...process.env, ...markOf(processEnv(stale)), HERMES_KANBAN_TASK: 'job-new', HERMES_KANBAN_RUN_ID: '99' },
    stdio: 'ignore',
    detached: true,
  });
  own(fresh.pid!);
  const freshStart = processStartTime(fresh.pid!)!;
  await until('the fresh worker holding the new file', () => writesOf(readGatewayLog(freshLog)).length > 0);
  renameSync(next, fleet.board);

  const events = await fleet.waitForEvent((all) => ofType(all, 'board.worker_stop').length >= 1);
  const stop = ofType(events, 'board.worker_stop')[0]!;
  t.like(stop, { board: 'default', pid: stale, task: 'job-old', run_id: runId, generation: 2 });
  t.true(stop.result === 'kill' || stop.result === 'term', `stopped: ${String(stop.result)}`);
  const fence = ofType(events, 'board.fence')[0]!;
  t.deepEqual(fence.workers, [{ pid: stale, task: 'job-old', run_id: runId }]);
  t.deepEqual(fence.profiles, [], 'the worker\'s gateway holds nothing and keeps running');
  t.false(runs(stale, staleStart), 'the stale worker is gone');
  const late = writesOf(fleet.log('alpha')).filter((write) => write.pid === stale && write.ts_ms >= (fence.ts_ms as number));
  t.deepEqual(late, [], 'no write by the stale worker after the fence');

  await until('the fresh worker writing after the fence', () =>
    writesOf(readGatewayLog(freshLog)).some((write) => write.ts_ms > (stop.ts_ms as number)),
  );
  t.true(runs(fresh.pid!, freshStart), 'the worker on the new file keeps running');
  t.not(readProcStat(fresh.pid!)!.state, 'T', 'and was never frozen');
  t.false(ofType(fleet.events(), 'board.worker_stop').some((event) => event.task === 'job-new'));
  const lifecycle = fleet.events().filter((event) => /^(gateway\.(spawn|exit)|wave\.|board\.(swap|fence|init))/.test(String(event.type)));
  t.is(ofType(fleet.events(), 'gateway.spawn').length, 1, `the gateway was not restarted: ${JSON.stringify(lifecycle)}`);
});

/** The supervisor's state-dir mark, as a process of its fleet carries it. */
function markOf(env: Record<string, string>): Record<string, string> {
  return { [STATE_DIR_MARK]: env[STATE_DIR_MARK]! };
}
