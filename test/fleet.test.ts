import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { ofType } from './helpers/events.js';
import { startFleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { poll } from './helpers/wait.js';
import { killAll, pidsWithMarker, processEnv } from './helpers/proc.js';

const fast = { stop_timeout: '2s', ready_after: '300ms' };

test('a crashing gateway backs off with growing delays and ends failed', async (t) => {
  const dir = makeFleetDir(t);
  const crash = dir.script('crash.py', 'import sys\nprint("crashing", flush=True)\nsys.exit(3)\n');
  const fleet = await startFleet(t, {
    dir,
    gateway: ['python3', crash, '{profile}'],
    config: { restart: { ...fast, backoff: { initial: '100ms', max: '2s' }, give_up: { crashes: 5, within: '1m' } } },
    profiles: { crashy: {} },
    ready: false,
  });
  const { supervisor } = fleet;

  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.failed').length === 1);
  const backoffs = ofType(events, 'gateway.backoff', 'crashy').map((event) => event.delay_ms);
  t.deepEqual(backoffs, [100, 200, 400, 800]);
  t.is(ofType(events, 'gateway.spawn', 'crashy').length, 5);
  t.true(ofType(events, 'gateway.exit', 'crashy').every((event) => event.code === 3 && event.expected === false));
  t.like(ofType(events, 'gateway.failed')[0], { profile: 'crashy', crashes: 5 });

  const spawns = ofType(events, 'gateway.spawn', 'crashy').map((event) => event.ts_ms as number);
  const exits = ofType(events, 'gateway.exit', 'crashy').map((event) => event.ts_ms as number);
  const gaps = spawns.slice(1).map((at, index) => at - exits[index]!);
  // Each restart waits out its (doubling) delay; a loaded machine may add to a gap, never take from it.
  gaps.forEach((gap, i) => t.true(gap >= (backoffs[i] as number), `restart gaps grow: ${gaps.join(', ')}`));

  // A restart would come within backoff.max of the last exit: watch at least that long.
  await sleep(2000);
  t.is(ofType(fleet.events(), 'gateway.spawn', 'crashy').length, 5, 'no restart after failed');
  supervisor.child.kill('SIGTERM');
  t.is((await supervisor.exited).code, 0);
  t.regex(readFileSync(path.join(fleet.stateDir, 'logs', 'crashy.log'), 'utf8'), /crashing/);
  t.regex(supervisor.output(), /crashy \| crashing/);
});

test('SIGTERM to the supervisor leaves no gateway process alive, descendants included', async (t) => {
  const dir = makeFleetDir(t);
  const marker = `marker-${path.basename(dir.root)}`;
  const forker = dir.script(
    'forker.py',
    [
      'import os, sys, time',
      'if os.fork() == 0:',
      '    os.execvp("python3", ["python3", "-c", "import time; time.sleep(600)", sys.argv[1]])',
      'print("ready", flush=True)',
      'time.sleep(600)',
    ].join('\n'),
  );
  t.teardown(() => killAll(pidsWithMarker(marker)));
  const fleet = await startFleet(t, {
    dir,
    gateway: ['python3', forker, `${marker}-{profile}`],
    config: { restart: fast },
    profiles: Object.fromEntries(['one', 'two', 'three'].map((name) => [name, { config: { kanban: { enabled: name === 'one' } } }])),
    ready: false,
  });
  const { supervisor } = fleet;

  await fleet.waitForEvent((all) => ofType(all, 'gateway.ready').length === 3);
  await poll(() => pidsWithMarker(marker).length, (count) => count === 6);
  t.is(pidsWithMarker(marker).length, 6, 'three gateways, each with a child');
  supervisor.child.kill('SIGTERM');
  const exit = await supervisor.exited;
  t.is(exit.code, 0);
  t.deepEqual(pidsWithMarker(marker), []);
  const events = fleet.events();
  t.is(ofType(events, 'gateway.exit').length, 3);
  t.true(ofType(events, 'gateway.exit').every((event) => event.expected === true));
  t.is(events.at(-1)!.type, 'supervisor.stop');
});

test('a gateway that ignores SIGTERM is SIGKILLed after stop_timeout', async (t) => {
  const dir = makeFleetDir(t);
  const marker = `stubborn-${path.basename(dir.root)}`;
  const stubborn = dir.script(
    'stubborn.py',
    'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ignoring SIGTERM", flush=True)\ntime.sleep(600)\n',
  );
  t.teardown(() => killAll(pidsWithMarker(marker)));
  const fleet = await startFleet(t, {
    dir,
    gateway: ['python3', stubborn, marker],
    config: { restart: { stop_timeout: '1s', ready_after: '300ms' } },
    profiles: { stubborn: {} },
    ready: false,
  });
  const { supervisor } = fleet;

  await fleet.waitForEvent((all) => ofType(all, 'gateway.ready').length === 1);
  await supervisor.waitFor('ignoring SIGTERM');
  supervisor.child.kill('SIGTERM');
  t.is((await supervisor.exited).code, 0);
  const exit = ofType(fleet.events(), 'gateway.exit', 'stubborn')[0]!;
  t.is(exit.signal, 'SIGKILL');
  t.true((exit.ran_ms as number) >= 1000);
  t.deepEqual(pidsWithMarker(marker), []);
});

test('a denied gateway cannot reach the shared root; a granted one can', async (t) => {
  const dir = makeFleetDir(t);
  const marker = `env-${path.basename(dir.root)}`;
  const probe = dir.script(
    'probe.py',
    [
      'import os, time',
      'root = os.environ.get("HERMES_KANBAN_DB") or os.path.join(os.environ["HERMES_KANBAN_HOME"], "kanban.db")',
      'print("board-visible", os.path.exists(root), flush=True)',
      'time.sleep(600)',
    ].join('\n'),
  );
  t.teardown(() => killAll(pidsWithMarker(marker)));
  const fleet = await startFleet(t, {
    dir,
    board: (board) => writeFileSync(board, ''),
    gateway: ['python3', probe, `${marker}-{profile}`],
    config: { restart: fast },
    profiles: {
      granted: { config: { kanban: { dispatch_in_gateway: true } } },
      denied: { config: { kanban: { enabled: false, dispatch_in_gateway: true } } },
      plain: {},
    },
    env: { HERMES_KANBAN_DB: path.join(dir.hermesHome, 'kanban.db'), HERMES_KANBAN_HOME: dir.hermesHome },
    ready: false,
  });
  const { supervisor } = fleet;
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.ready').length === 3);
  const pidOf = (profile: string) => ofType(events, 'gateway.spawn', profile)[0]!.pid as number;

  const granted = processEnv(pidOf('granted'));
  t.is(granted.HERMES_KANBAN_HOME, fleet.hermesHome);
  t.is(granted.HERMES_KANBAN_DISPATCH_IN_GATEWAY, '1');
  t.is(granted.HERMES_HOME, path.join(fleet.hermesHome, 'profiles', 'granted'));
  await supervisor.waitFor('granted | board-visible True');

  for (const profile of ['denied', 'plain']) {
    const env = processEnv(pidOf(profile));
    const denied = path.join(fleet.stateDir, 'denied', profile);
    t.is(env.HERMES_KANBAN_HOME, denied);
    t.is(env.HERMES_KANBAN_DB, undefined, 'an inherited HERMES_KANBAN_DB is dropped');
    t.is(env.HERMES_KANBAN_DISPATCH_IN_GATEWAY, '0');
    t.is(env.HERMES_KANBAN_NOTIFY_IN_GATEWAY, '0');
    t.true(existsSync(denied));
    t.deepEqual(readdirSync(denied), []);
    t.false(denied.startsWith(fleet.hermesHome));
    await supervisor.waitFor(`${profile} | board-visible False`);
  }
  supervisor.child.kill('SIGTERM');
  t.is((await supervisor.exited).code, 0);
});

test('gateways start in priority order and log to their own files', async (t) => {
  const dir = makeFleetDir(t);
  const hello = dir.script('hello.py', 'import sys, time\nprint("hello from", sys.argv[1], flush=True)\ntime.sleep(600)\n');
  const fleet = await startFleet(t, {
    dir,
    gateway: ['python3', hello, '{profile}'],
    config: { restart: fast },
    profiles: {
      late: { config: { supervisor: { priority: 200 } } },
      early: { config: { supervisor: { priority: 1 } } },
      middle: {},
      skipped: { config: { supervisor: { enabled: false } } },
    },
    ready: false,
  });
  const { supervisor } = fleet;
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.ready').length === 3);
  t.deepEqual(ofType(events, 'gateway.spawn').map((event) => event.profile), ['early', 'middle', 'late']);
  const readyEarly = ofType(events, 'gateway.ready', 'early')[0]!.ts_ms as number;
  t.true((ofType(events, 'gateway.spawn', 'middle')[0]!.ts_ms as number) >= readyEarly, 'next level waits for readiness');
  await supervisor.waitFor('early | hello from early');
  supervisor.child.kill('SIGTERM');
  await supervisor.exited;
  t.regex(readFileSync(path.join(fleet.stateDir, 'logs', 'early.log'), 'utf8'), /hello from early/);
  t.false(existsSync(path.join(fleet.stateDir, 'logs', 'skipped.log')));
  t.like(fleet.events()[0], { type: 'supervisor.start', profiles: ['early', 'middle', 'late'] });
});

test('a descendant that left the gateway\'s group holding its stdout neither delays the stop nor outlives it', async (t) => {
  const dir = makeFleetDir(t);
  const marker = `escape-${path.basename(dir.root)}`;
  const escaper = dir.script(
    'escaper.py',
    [
      'import subprocess, sys, time',
      '# A worker in a session of its own that inherits stdout, as start_new_session=True makes it.',
      'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", sys.argv[1]], start_new_session=True)',
      'print("spawned", flush=True)',
      'time.sleep(600)',
    ].join('\n'),
  );
  t.teardown(() => killAll(pidsWithMarker(marker)));
  const fleet = await startFleet(t, {
    dir,
    gateway: ['python3', escaper, marker],
    config: { restart: { stop_timeout: '2s', ready_after: '300ms' } },
    profiles: { escaper: {} },
    ready: false,
  });
  const { supervisor } = fleet;
  await supervisor.waitFor('escaper | spawned');
  await poll(() => pidsWithMarker(marker).length, (count) => count === 2);
  t.is(pidsWithMarker(marker).length, 2);
  supervisor.child.kill('SIGTERM');
  t.is((await supervisor.exited).code, 0);
  const exit = ofType(fleet.events(), 'gateway.exit', 'escaper')[0]!;
  t.is(exit.signal, 'SIGTERM', 'stopped by SIGTERM, not by the SIGKILL at stop_timeout');
  t.deepEqual(pidsWithMarker(marker), []);
});
