import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { readProcStat } from '../src/board/proc.js';
import { STATE_DIR_MARK } from '../src/hermes/index.js';
import { KIND_MARK, liveGroupMembers, markedGroupKind, PGID_MARK, runProcess, startProcess } from '../src/proc/index.js';
import { ownProcesses } from './helpers/proc.js';
import { tempDir } from './helpers/tempDir.js';
import { until } from './helpers/wait.js';

const env = (): Record<string, string> => Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));

const running = (pid: number) => {
  const state = readProcStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
};

const readPidFile = (file: string): Promise<number> =>
  until(`a pid in ${file}`, () => {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
    return text !== '' && Number(text);
  });

/** Starts a sleeper in a session of its own, writes its pid to argv[1], then runs `then`. */
const withSetsidSleeper = (then: string): string =>
  [
    'import subprocess, sys, time',
    'child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)',
    'open(sys.argv[1], "w").write(str(child.pid))',
    then,
  ].join('\n');

const TWENTY = 'import sys; sys.stdout.write("0123456789abcdefghij"); sys.stderr.write("ERR")';

test('head capture keeps the first bytes, tail capture the last, each within its bound', async (t) => {
  const head = await runProcess(['python3', '-c', TWENTY], { env: env(), capture: { keep: 'head', limit: 10 }, graceMs: 1000 });
  t.is(head.stdout, '0123456789... [10 more bytes]');
  t.is(head.stderr, 'ERR');
  const tail = await runProcess(['python3', '-c', TWENTY], { env: env(), capture: { keep: 'tail', limit: 10 }, graceMs: 1000 });
  t.is(tail.stdout, '[10 earlier bytes] ...abcdefghij');
  const combined = await runProcess(['python3', '-c', `${TWENTY}; sys.stderr.flush()`], { env: env(), capture: { keep: 'tail', limit: 4, combined: true }, graceMs: 1000 });
  t.is(combined.output.length <= '[19 earlier bytes] ...'.length + 4, true);
  t.regex(combined.output, /^\[19 earlier bytes\] \.\.\./);
  t.like(combined, { code: 0, signal: null, timedOut: false, ended: 'exited', termination: null, stdout: '', stderr: '' });
});

test('the string given as stdin is what the child reads', async (t) => {
  const result = await runProcess(['python3', '-c', 'import sys; print(sys.stdin.read().upper())'], {
    env: env(),
    stdin: { text: 'hello\n' },
    capture: { keep: 'head', limit: 100 },
    graceMs: 1000,
  });
  t.is(result.stdout, 'HELLO\n\n');
});

test('a leader that exits while a setsid descendant holds its stdout resolves without waiting for the pipe', async (t) => {
  const dir = tempDir(t, 'hermes-proc-');
  const pidFile = path.join(dir, 'descendant.pid');
  const own = ownProcesses(t);
  const script = withSetsidSleeper('print("started", flush=True)');
  const result = await runProcess(['python3', '-c', script, pidFile], { env: env(), capture: { keep: 'head', limit: 100 }, graceMs: 1000 });
  const descendant = own(await readPidFile(pidFile));
  t.like(result, { code: 0, ended: 'exited', stdout: 'started\n' });
  t.true(running(descendant), 'the descendant still holds the pipe when the result is in');
  t.not(readProcStat(descendant)?.pgrp, result.pid, 'it runs outside the leader group');
});

test('at the timeout a group that ignores SIGTERM gets SIGKILL, and nothing of it is left', async (t) => {
  const dir = tempDir(t, 'hermes-proc-');
  const readyFile = path.join(dir, 'ready');
  const script = [
    'import signal, subprocess, sys, time',
    'signal.signal(signal.SIGTERM, signal.SIG_IGN)',
    'subprocess.Popen([sys.executable, "-c", "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open(sys.argv[1], \'w\').close(); time.sleep(600)", sys.argv[1]])',
    'time.sleep(600)',
  ].join('\n');
  const own = ownProcesses(t);
  // The group must be ignoring SIGTERM when the timeout comes: on a slow machine the first timeout
  // may come before that, so it grows until the group was ready in time.
  for (let timeoutMs = 500; ; timeoutMs *= 4) {
    const started = startProcess(['python3', '-c', script, readyFile], { env: env(), timeoutMs, graceMs: 300 });
    own(started.pid!, { group: true });
    const result = await started.result;
    if (!fs.existsSync(readyFile) && timeoutMs < 60_000) continue;
    t.like(result, { timedOut: true, ended: 'timed_out', termination: 'kill', signal: 'SIGKILL', code: null });
    t.is(result.error, undefined);
    t.deepEqual(liveGroupMembers(started.pid!), [], 'no member of the group runs');
    return;
  }
});

test('stop() ends a group that leaves on SIGTERM without SIGKILL', async (t) => {
  const started = startProcess(['python3', '-c', 'import time; print("up", flush=True); time.sleep(600)'], {
    env: env(),
    capture: { keep: 'head', limit: 100 },
    graceMs: 20_000,
  });
  const result = await started.stop();
  t.like(result, { ended: 'stopped', termination: 'term', signal: 'SIGTERM', timedOut: false });
  t.deepEqual(liveGroupMembers(started.pid!), []);
});

test('a missing program is an error naming it, not an exception', async (t) => {
  const result = await runProcess(['no-such-program-for-hermes', '--flag'], { env: env(), graceMs: 1000 });
  t.like(result, { pid: null, code: null, signal: null, ended: 'spawn_failed' });
  t.is(result.error, 'cannot start no-such-program-for-hermes: ENOENT');
  const dir = tempDir(t, 'hermes-proc-');
  const notExecutable = path.join(dir, 'script.sh');
  fs.writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
  t.is((await runProcess([notExecutable], { env: env(), graceMs: 1000 })).error, `cannot start ${notExecutable}: EACCES`);
});

test('a marked group names its kind and own pgid; a setsid descendant with the inherited marks is not taken for it', async (t) => {
  const dir = tempDir(t, 'hermes-proc-');
  const pidFile = path.join(dir, 'worker.pid');
  const own = ownProcesses(t);
  const script = withSetsidSleeper('time.sleep(600)');
  const started = startProcess(['python3', '-c', script, pidFile], { env: env(), graceMs: 1000, mark: { stateDir: dir, kind: 'hook' } });
  t.teardown(() => void started.stop());
  const worker = own(await readPidFile(pidFile));
  const leader = started.pid!;
  t.is(markedGroupKind(leader, leader, dir), 'hook');
  t.is(markedGroupKind(leader, leader, `${dir}-other`), null, 'another state dir does not claim it');
  const environ = fs.readFileSync(`/proc/${worker}/environ`, 'utf8').split('\0');
  t.true(environ.includes(`${STATE_DIR_MARK}=${dir}`) && environ.includes(`${KIND_MARK}=hook`) && environ.includes(`${PGID_MARK}=${leader}`), 'the worker inherited every mark');
  t.is(markedGroupKind(worker, readProcStat(worker)!.pgrp, dir), null);
  t.like(await started.stop(), { ended: 'stopped' });
  t.true(running(worker), 'ending the group leaves the worker in its own session');
});
