import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { ofType, readEventFile } from './helpers/events.js';
import { brisk, startFleet, supervise } from './helpers/fleet.js';
import { fixture } from './helpers/fixture.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { tempDir } from './helpers/tempDir.js';
import { clearPlannedStop, PLANNED_STOP_MARKER, writePlannedStop } from '../src/hermes/index.js';
import { forgetGateway } from '../src/recovery/index.js';
import { processEnv } from './helpers/proc.js';

// Hermes's external-supervisor contract, spoken to the fixture gateway (test/fixtures/hermes_gateway.py).

const SERVICE_MANAGER = {
  INVOCATION_ID: '0123456789abcdef0123456789abcdef',
  NOTIFY_SOCKET: '/nonexistent/notify',
  WATCHDOG_USEC: '30000000',
  WATCHDOG_PID: '1',
  LISTEN_FDS: '1',
  LISTEN_PID: '1',
  LISTEN_FDNAMES: 'control',
  JOURNAL_STREAM: '8:1234',
  MANAGERPID: '1',
  SYSTEMD_EXEC_PID: '1',
};

test('a gateway never inherits the service manager markers of its supervisor, and is told it is supervised', async (t) => {
  const fleet = await startFleet(t, { config: brisk(), profiles: { alpha: { mode: 'idle' } }, env: SERVICE_MANAGER });
  const pid = ofType(fleet.events(), 'gateway.spawn', 'alpha')[0]!.pid as number;
  const env = processEnv(pid);
  for (const name of Object.keys(SERVICE_MANAGER)) t.false(name in env, name);
  t.is(env.HERMES_SUPERVISED_CHILD, '1');
  t.is(env.HERMES_GATEWAY_MAX_STARTS, '0');
  t.is(env.HERMES_GATEWAY_EXTERNAL_SUPERVISOR, '1');
});

test('a stop and a shutdown are planned stops: the marker is consumed and the gateway exits 0', async (t) => {
  const fleet = await startFleet(t, { config: brisk(), profiles: { alpha: { mode: 'idle' }, beta: { mode: 'idle' } } });
  const fixtureLog = (profile: string) => readEventFile(path.join(fleet.logsDir, `${profile}.jsonl`));
  t.is((await fleet.cli('stop', 'alpha')).code, 0);
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.exit', 'alpha').length === 1);
  t.like(ofType(events, 'gateway.exit', 'alpha')[0], { code: 0, signal: null, expected: true });
  t.deepEqual(
    fixtureLog('alpha').filter((line) => line.event === 'planned_stop').map((line) => [line.planned, line.reason]),
    [[true, 'matched']],
  );
  t.false(existsSync(path.join(fleet.hermesHome, 'profiles', 'alpha', '.gateway-planned-stop.json')), 'the gateway consumed the marker');

  fleet.supervisor.child.kill('SIGTERM');
  t.is((await fleet.supervisor.exited).code, 0);
  t.like(ofType(fleet.events(), 'gateway.exit', 'beta')[0], { code: 0, expected: true });
  t.deepEqual(fixtureLog('beta').filter((line) => line.event === 'planned_stop').map((line) => line.planned), [true]);
});

test('a gateway a killed supervisor left behind is stopped as planned by the next start, recorded or found by its marks', async (t) => {
  const fleet = await startFleet(t, { config: brisk(), profiles: { alpha: { mode: 'idle' }, beta: { mode: 'idle' } } });
  const fixtureLog = (profile: string) => readEventFile(path.join(fleet.logsDir, `${profile}.jsonl`));
  const old = Object.fromEntries(['alpha', 'beta'].map((profile) => [profile, ofType(fleet.events(), 'gateway.spawn', profile)[0]!.pid]));
  fleet.supervisor.child.kill('SIGKILL');
  await fleet.supervisor.exited;
  // beta's record is lost (spawned an instant before the kill): it is found by its marks alone.
  forgetGateway(fleet.stateDir, 'beta');
  supervise(t, fleet.configFile);
  await fleet.waitForEvent((all) => ofType(all, 'gateway.leftover').length === 2 && ofType(all, 'gateway.ready').length >= 4);
  for (const profile of ['alpha', 'beta']) {
    const verdicts = fixtureLog(profile).filter((line) => line.event === 'planned_stop' && line.pid === old[profile]);
    t.deepEqual(verdicts.map((line) => [line.planned, line.reason]), [[true, 'matched']], `${profile} exited as a planned stop`);
  }
});

test("the planned-stop marker is Hermes's JSON, private, and cleared only for its own target", (t) => {
  const home = tempDir(t);
  const file = writePlannedStop(home, { targetPid: 4242, targetStartTime: 123456, stopperPid: 7, writtenAt: new Date('2026-11-30T05:00:00Z') });
  t.is(file, path.join(home, PLANNED_STOP_MARKER));
  t.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
    target_pid: 4242,
    target_start_time: 123456,
    stopper_pid: 7,
    written_at: '2026-11-30T05:00:00.000Z',
  });
  t.is(statSync(file).mode & 0o777, 0o600);
  clearPlannedStop(home, 4243);
  t.true(existsSync(file), "another target's marker stays");
  clearPlannedStop(home, 4242);
  t.false(existsSync(file));
});

test('a command that is not Hermes leaves no planned-stop marker behind after its stop', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk(),
    profiles: { plain: { command: () => ['python3', '-c', 'import time; time.sleep(600)'] } },
  });
  t.is((await fleet.cli('stop', 'plain')).code, 0);
  await fleet.waitForEvent((all) => ofType(all, 'gateway.exit', 'plain').length === 1);
  t.false(existsSync(path.join(fleet.hermesHome, 'profiles', 'plain', PLANNED_STOP_MARKER)));
  t.deepEqual(ofType(fleet.events(), 'supervisor.error'), []);
});

interface ProfileStatus {
  name: string;
  state: string;
  restarts: number;
  last_exit: { code: number | null } | null;
  last_restart_reason: string | null;
}

async function profileStatus(fleet: Awaited<ReturnType<typeof startFleet>>, name: string): Promise<ProfileStatus> {
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout) as { profiles: ProfileStatus[] };
  return status.profiles.find((profile) => profile.name === name)!;
}

test('exit 75 starts the gateway again at once: no backoff, no crash counted', async (t) => {
  // Two crashes would give up: three exits 75 in a row show none of them counts as one.
  const fleet = await startFleet(t, {
    config: brisk({ restart: { give_up: { crashes: 2, within: '10m' }, backoff: { initial: '10m', max: '10m' } } }),
    // Well after the state file says running (300 ms): a restart asked for by a gateway that was ready.
    profiles: { alpha: { mode: 'idle', args: ['--exit-75-after-ms', '2500'] } },
    ready: false,
  });
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.spawn', 'alpha').length >= 4);
  t.is(ofType(events, 'gateway.ready', 'alpha').length >= 3, true, 'each run was ready before it asked to be restarted');
  t.deepEqual(
    ofType(events, 'gateway.spawn', 'alpha').slice(0, 4).map((event) => event.reason),
    ['start', 'hermes restart (exit 75)', 'hermes restart (exit 75)', 'hermes restart (exit 75)'],
  );
  t.true(ofType(events, 'gateway.exit', 'alpha').every((event) => event.code === 75));
  t.deepEqual(ofType(events, 'gateway.backoff'), []);
  t.deepEqual(ofType(events, 'gateway.failed'), []);
  const status = await profileStatus(fleet, 'alpha');
  t.true(status.restarts >= 3);
  t.is(status.last_restart_reason, 'hermes restart (exit 75)');
});

test('exit 75 before the gateway was ever ready is a refusal to start: it backs off, never spins', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk({ restart: { backoff: { initial: '10m', max: '10m' } } }),
    profiles: { alpha: { mode: 'idle', args: ['--exit-75-after-ms', '50', '--startup-delay-ms', '5000'] } },
    ready: false,
  });
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.backoff', 'alpha').length === 1);
  t.like(ofType(events, 'gateway.exit', 'alpha')[0], { code: 75 });
  t.is(ofType(events, 'gateway.spawn', 'alpha').length, 1);
  t.deepEqual(ofType(events, 'gateway.ready', 'alpha'), []);
});

test('exit 78 is a fatal config error: failed, never started again until an operator starts it', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk({ restart: { backoff: { initial: '100ms', max: '100ms' } } }),
    profiles: { alpha: { mode: 'idle', args: ['--exit-78-after-ms', '400'] } },
    ready: false,
  });
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.failed', 'alpha').length === 1);
  t.like(ofType(events, 'gateway.failed', 'alpha')[0], { reason: 'fatal config (exit 78)' });
  t.like(ofType(events, 'gateway.exit', 'alpha')[0], { code: 78 });
  t.deepEqual(ofType(events, 'gateway.backoff'), []);
  // A crash would be spawned again within backoff.max (100 ms): watch well past that.
  await sleep(1500);
  t.is(ofType(fleet.events(), 'gateway.spawn', 'alpha').length, 1, 'no spawn after exit 78');
  t.like(await profileStatus(fleet, 'alpha'), { state: 'failed', last_exit: { code: 78 } });

  await fleet.cli('start', 'alpha');
  const again = await fleet.waitForEvent((all) => ofType(all, 'gateway.spawn', 'alpha').length === 2);
  t.is(ofType(again, 'gateway.spawn', 'alpha')[1]!.reason, 'operator');
});

test("a gateway is ready when its gateway_state.json says running, not after ready_after", async (t) => {
  // A previous run's state file (of a pid long gone) marks the home as a Hermes gateway's.
  const dir = makeFleetDir(t);
  const home = path.join(dir.hermesHome, 'profiles', 'slow');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'gateway_state.json'), JSON.stringify({ pid: 999_999_999, gateway_state: 'running' }));
  const fleet = await startFleet(t, {
    dir,
    config: brisk({ restart: { ready_after: '300ms' } }),
    profiles: { slow: { mode: 'idle', args: ['--startup-delay-ms', '3000'] } },
  });
  const ready = ofType(fleet.events(), 'gateway.ready', 'slow');
  t.is(ready.length, 1);
  t.is(ready[0]!.from, 'state_file');
  const states = readEventFile(path.join(fleet.logsDir, 'slow.jsonl')).filter((line) => line.event === 'state');
  const running = states.find((line) => line.state === 'running');
  t.truthy(running, 'the fixture wrote running');
  t.true((running!.ts_ms as number) <= (ready[0]!.ts_ms as number), 'ready came after the state file said running');
  t.true(states.some((line) => line.state === 'starting' && (line.ts_ms as number) < (ready[0]!.ts_ms as number)));
});

test('a command that writes no state file is ready after ready_after; ready_from: timer ignores the file', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk({ restart: { ready_after: '300ms', ready_from: 'timer' } }),
    profiles: { slow: { mode: 'idle', args: ['--startup-delay-ms', '60000'] } },
  });
  t.like(ofType(fleet.events(), 'gateway.ready', 'slow')[0], { from: 'timer' });
});

test('a profile sets its own ready_from; under state_file a command that writes no state file waits and says so', async (t) => {
  const sleeper = () => ['python3', '-c', 'import time; time.sleep(600)'];
  const fleet = await startFleet(t, {
    config: brisk({ restart: { ready_after: '300ms' } }),
    profiles: {
      plain: { command: sleeper, config: { supervisor: { ready_from: 'timer' } } },
      silent: { command: sleeper, config: { supervisor: { ready_from: 'state_file' } } },
    },
    ready: false,
  });
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.ready', 'plain').length === 1 && ofType(all, 'gateway.waiting', 'silent').length === 1);
  t.like(ofType(events, 'gateway.ready', 'plain')[0], { from: 'timer' });
  t.like(ofType(events, 'gateway.waiting', 'silent')[0], { state_file: path.join(fleet.hermesHome, 'profiles', 'silent', 'gateway_state.json') });
  t.regex(String(ofType(events, 'gateway.waiting', 'silent')[0]!.note), /ready_from: timer/);
  t.deepEqual(ofType(fleet.events(), 'gateway.ready', 'silent'), [], 'never ready without its state file');
});

test('a gateway slower to write its first state file than ready_after, on a fresh home, is ready only once it says running', async (t) => {
  // Hermes's imports alone can outlast ready_after on a busy host: nothing is written before they finish.
  const dir = makeFleetDir(t);
  const logs = path.join(dir.root, 'gateway-logs');
  const fleet = await startFleet(t, {
    dir,
    config: brisk({ restart: { ready_after: '300ms' } }),
    profiles: {
      slow: {
        command: () => ['/bin/sh', '-c', 'sleep 1.5; exec "$0" "$@"', 'python3', fixture, '--profile', 'slow', '--log', path.join(logs, 'slow.jsonl'), '--mode', 'idle'],
      },
    },
  });
  const events = fleet.events();
  t.like(ofType(events, 'gateway.ready', 'slow')[0], { from: 'state_file' });
  t.is(ofType(events, 'gateway.waiting', 'slow').length, 1, 'it said it was waiting at ready_after');
  const running = readEventFile(path.join(logs, 'slow.jsonl')).find((line) => line.event === 'state' && line.state === 'running');
  t.true((running!.ts_ms as number) <= (ofType(events, 'gateway.ready', 'slow')[0]!.ts_ms as number));
});

test("a wave restarts each gateway only after the one before says running in its state file", async (t) => {
  const slow = { mode: 'idle' as const, args: ['--startup-delay-ms', '2000'] };
  const fleet = await startFleet(t, {
    config: brisk({ restart: { ready_after: '300ms', max_parallel: 1 } }),
    profiles: { alpha: slow, beta: slow },
  });
  const before = fleet.events().length;
  // Both homes now hold a state file of the first run: the restarted gateways wait for their own `running`.
  t.is((await fleet.cli('restart', 'alpha', 'beta', '--reason', 'deploy')).code, 0);
  const wave = fleet.events().slice(before);
  const at = (type: string, profile: string) => ofType(wave, type, profile)[0]!.ts_ms as number;
  // The first `running` the restarted process wrote (it re-stamps the file every heartbeat).
  const runningAt = (profile: string) => {
    const pid = ofType(wave, 'gateway.spawn', profile)[0]!.pid;
    const lines = readEventFile(path.join(fleet.logsDir, `${profile}.jsonl`));
    return lines.find((line) => line.event === 'state' && line.state === 'running' && line.pid === pid)!.ts_ms as number;
  };
  for (const profile of ['alpha', 'beta']) {
    t.like(ofType(wave, 'gateway.ready', profile)[0], { from: 'state_file' }, profile);
    t.true(runningAt(profile) <= at('gateway.ready', profile), `${profile} ready after its state file said running`);
  }
  const [first, second] = ofType(wave, 'gateway.spawn').map((event) => event.profile as string);
  t.true(at('gateway.ready', first!) <= at('gateway.spawn', second!), 'the second spawns once the first is ready');
});
