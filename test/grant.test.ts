import test from 'ava';
import { childEnvironment, decideGrant, gatewayEnv, redactEnv, type GrantReason, type KanbanKeys } from '../src/plan/index.js';

const cases: Array<[KanbanKeys, boolean, GrantReason, boolean]> = [
  [{}, false, 'not configured', false],
  [{ enabled: true }, true, 'kanban.enabled', false],
  [{ enabled: true, dispatch_in_gateway: true }, true, 'kanban.enabled', true],
  [{ enabled: true, dispatch_in_gateway: false }, true, 'kanban.enabled', false],
  [{ dispatch_in_gateway: true }, true, 'kanban.dispatch_in_gateway', true],
  [{ dispatch_in_gateway: false }, false, 'not configured', false],
  [{ enabled: false }, false, 'kanban.enabled=false', false],
  [{ enabled: false, dispatch_in_gateway: true }, false, 'kanban.enabled=false', false],
  [{ notify_in_gateway: true }, false, 'not configured', false],
];

for (const [keys, granted, reason, dispatch] of cases) {
  test(`grant for ${JSON.stringify(keys)} is ${granted ? 'given' : 'refused'} (${reason})`, (t) => {
    const grant = decideGrant(keys);
    t.is(grant.granted, granted);
    t.is(grant.reason, reason);
    t.is(grant.dispatch, dispatch);
  });
}

test('a granted gateway may switch its notifier off; a denied one never notifies', (t) => {
  t.false(decideGrant({ enabled: true, notify_in_gateway: false }).notify);
  t.true(decideGrant({ enabled: true }).notify);
  t.false(decideGrant({ notify_in_gateway: true }).notify);
});

const homes = { profileHome: '/h/profiles/p', kanbanHome: '/h', deniedHome: '/state/denied/p', stateDir: '/state' };

test('granted env points at the shared root with the configured switches', (t) => {
  const env = gatewayEnv({ grant: decideGrant({ dispatch_in_gateway: true }), ...homes, extra: { A: '1' } });
  t.deepEqual(env, {
    A: '1',
    HERMES_HOME: '/h/profiles/p',
    HERMES_KANBAN_HOME: '/h',
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '1',
    HERMES_KANBAN_NOTIFY_IN_GATEWAY: '1',
    HERMES_SUPERVISOR_STATE_DIR: '/state',
  });
  t.is(gatewayEnv({ grant: decideGrant({ enabled: true }), ...homes, extra: {} }).HERMES_KANBAN_DISPATCH_IN_GATEWAY, '0');
});

test('denied env switches both off and points at an empty folder of its own', (t) => {
  const env = gatewayEnv({ grant: decideGrant({ enabled: false, dispatch_in_gateway: true }), ...homes, extra: {} });
  t.is(env.HERMES_KANBAN_HOME, '/state/denied/p');
  t.is(env.HERMES_KANBAN_DISPATCH_IN_GATEWAY, '0');
  t.is(env.HERMES_KANBAN_NOTIFY_IN_GATEWAY, '0');
});

test('inherited grant variables never reach a gateway', (t) => {
  const env = childEnvironment(
    { PATH: '/bin', HERMES_KANBAN_DB: '/h/kanban.db', HERMES_KANBAN_BOARD: 'x', HERMES_KANBAN_HOME: '/h', HERMES_HOME: '/h' },
    { HERMES_HOME: '/p', HERMES_KANBAN_HOME: '/state/denied/p' },
  );
  t.deepEqual(env, { PATH: '/bin', HERMES_HOME: '/p', HERMES_KANBAN_HOME: '/state/denied/p' });
});

test('values that look like secrets are redacted for display', (t) => {
  t.deepEqual(redactEnv({ OPENAI_API_KEY: 'sk-1', BOT_TOKEN: 't', LEVEL: 'debug' }), {
    OPENAI_API_KEY: '***',
    BOT_TOKEN: '***',
    LEVEL: 'debug',
  });
});
