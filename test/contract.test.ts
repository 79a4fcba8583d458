import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ofType, readEventFile } from './helpers/events.js';
import { brisk, startFleet } from './helpers/fleet.js';
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
