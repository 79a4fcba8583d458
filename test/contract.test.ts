import test from 'ava';
import { ofType } from './helpers/events.js';
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
});
