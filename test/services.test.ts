import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parse, stringify } from 'yaml';
import Database from 'better-sqlite3';
import { readIdentity } from '../src/board/index.js';
import { integrityCheck, swaps } from './helpers/board.js';
import { runCli } from './helpers/cli.js';
import { ofType, type Events } from './helpers/events.js';
import { gatewayArgs, python } from './helpers/fixture.js';
import { brisk, startFleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { errorsOf, writesOf } from './helpers/gatewayLog.js';
import { processEnv } from './helpers/proc.js';

const gateway = { command: ['python3', '-c', 'pass', '{profile}'] };

interface BadService {
  name: string;
  services: unknown;
  /** A profile folder to create beside the services. */
  profile?: string;
  key: string;
  expect: RegExp;
}

const badServices: BadService[] = [
  { name: 'unknown key', services: { dashboard: { kanban: true, port: 9119 } }, key: 'services.dashboard.port', expect: /unknown key; expected one of: command, kanban, env, stop_timeout, ready_from$/ },
  { name: 'misspelt key', services: { dashboard: { kanbn: true } }, key: 'services.dashboard.kanbn', expect: /did you mean "kanban"/ },
  { name: 'command as a shell string', services: { dashboard: { command: 'hermes dashboard --port 9119' } }, key: 'services.dashboard.command', expect: /list of strings \(argv\)/ },
  { name: 'name not valid for a path', services: { 'Web UI': { command: ['hermes', 'dashboard'] } }, key: 'services.Web UI', expect: /not a valid service name: expected lowercase letters/ },
  { name: 'name of the default profile', services: { default: { command: ['hermes', 'dashboard'] } }, key: 'services.default', expect: /names the default profile/ },
  { name: 'name of a profile', services: { alpha: { command: ['python3', '-c', 'pass'] } }, profile: 'alpha', key: 'services.alpha', expect: /has the name of profile "alpha"/ },
  { name: 'no command, not the dashboard', services: { viewer: { kanban: false } }, key: 'services.viewer.command', expect: /is required: only the "dashboard" service has a default \(hermes dashboard --no-open\)$/ },
  { name: 'kanban not a boolean', services: { dashboard: { kanban: 'yes' } }, key: 'services.dashboard.kanban', expect: /expected true or false, got "yes"$/ },
  { name: 'readiness from a state file', services: { dashboard: { ready_from: 'state_file' } }, key: 'services.dashboard.ready_from', expect: /expected "timer" \(a service writes no gateway_state\.json\), got "state_file"$/ },
  { name: 'grant variable in env', services: { dashboard: { env: { HERMES_KANBAN_DB: '/x.db' } } }, key: 'services.dashboard.env.HERMES_KANBAN_DB', expect: /set by the supervisor/ },
  { name: 'program not found', services: { viewer: { command: ['no-such-service-binary-xyz'] } }, key: 'services.viewer.command[0]', expect: /program "no-such-service-binary-xyz" for service "viewer" was not found/ },
  { name: 'a list, not a map', services: [{ command: ['hermes', 'dashboard'] }], key: 'services', expect: /expected a map of service names/ },
];

for (const bad of badServices) {
  test(`a bad services entry is one line naming the file and key: ${bad.name}`, async (t) => {
    const fleet = makeFleetDir(t);
    fleet.config({ gateway, services: bad.services });
    if (bad.profile !== undefined) fleet.profile(bad.profile, {});
    const result = await runCli(['validate', '--config', fleet.configFile]);
    t.is(result.code, 2, result.stderr);
    t.is(result.stdout, '');
    const lines = result.stderr.trim().split('\n');
    t.is(lines.length, 1, result.stderr);
    t.true(lines[0]!.includes(fleet.configFile), lines[0]);
    t.true(lines[0]!.includes(`: ${bad.key}: `), `names key ${bad.key}: ${lines[0]}`);
    t.regex(lines[0]!, bad.expect);
  });
}

test('a .env in the Hermes root that would bypass a service\'s grant is one error naming the service and the default profile', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway, services: { dashboard: { command: ['python3', '-c', 'pass'], kanban: true } } });
  fleet.profile('default', {});
  const dotenv = path.join(fleet.hermesHome, '.env');
  writeFileSync(dotenv, 'HERMES_KANBAN_HOME=/srv/elsewhere\n');
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 2, result.stderr);
  const lines = result.stderr.trim().split('\n').filter((line) => line.includes(dotenv));
  t.is(lines.length, 1, `one error for the file both read: ${result.stderr}`);
  t.regex(lines[0]!, /\.env:1: HERMES_KANBAN_HOME: .*kanban grant of profile "default" \(denied\), service "dashboard" \(granted\)/);
});

test('validate shows each service with its grant, command and environment', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({
    gateway,
    services: {
      dashboard: { command: ['python3', '-c', 'pass', 'dashboard'], kanban: true, stop_timeout: '5s' },
      viewer: { command: ['python3', '-c', 'pass', 'viewer'], env: { VIEW: 1 } },
    },
  });
  fleet.profile('alpha', { kanban: { enabled: true } });

  const json = await runCli(['validate', '--config', fleet.configFile, '--json']);
  t.is(json.code, 0, json.stderr);
  const byName = Object.fromEntries(JSON.parse(json.stdout).profiles.map((p: { name: string }) => [p.name, p]));
  t.like(byName.dashboard, { role: 'service', grant: true, grant_reason: 'service.kanban', command: ['python3', '-c', 'pass', 'dashboard'] });
  t.like(byName.dashboard.env, {
    HERMES_HOME: fleet.hermesHome,
    HERMES_KANBAN_HOME: fleet.hermesHome,
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0',
    HERMES_KANBAN_NOTIFY_IN_GATEWAY: '0',
  });
  t.like(byName.viewer, { role: 'service', grant: false, grant_reason: 'service.kanban=false' });
  t.like(byName.viewer.env, { HERMES_HOME: fleet.hermesHome, HERMES_KANBAN_HOME: path.join(fleet.stateDir, 'denied', 'viewer'), VIEW: '1' });
  t.like(byName.alpha, { role: 'profile', grant: true });

  const text = await runCli(['validate', '--config', fleet.configFile]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /│ service:dashboard\s+│ yes\s+│ service\.kanban\s+│ python3 -c pass dashboard\s+│/);
  t.regex(text.stdout, /│ service:viewer\s+│ no\s+│ service\.kanban=false\s+│ python3 -c pass viewer\s+│/);
});

/** The dashboard stand-in: the fixture in `mode`, logging its writes to `<root>/gateway-logs/dashboard.jsonl` as startFleet's gateways do. */
const standIn = (root: string, mode: 'idle' | 'dashboard') => [python, ...gatewayArgs('dashboard', path.join(root, 'gateway-logs'), ['--mode', mode, '--interval-ms', '100'])];

test('a service without the grant runs with no way to the boards; status lists services apart from gateways', async (t) => {
  const dir = makeFleetDir(t, 'hs-svc-');
  const fleet = await startFleet(t, {
    dir,
    board: true,
    profiles: { alpha: { mode: 'idle', grant: true } },
    config: brisk({
      services: {
        dashboard: { command: standIn(dir.root, 'idle'), kanban: true },
        viewer: { command: [python, '-c', 'import time; time.sleep(600)'], kanban: false, env: { VIEW_MODE: 'read' } },
      },
    }),
    ready: false,
  });
  const events = await fleet.waitForEvent((all) => ['alpha', 'dashboard', 'viewer'].every((name) => ofType(all, 'gateway.ready', name).length === 1));
  t.is(ofType(events, 'gateway.ready', 'viewer')[0]!.from, 'timer');
  const pidOf = (name: string) => ofType(events, 'gateway.spawn', name)[0]!.pid as number;

  const viewer = processEnv(pidOf('viewer'));
  t.is(viewer.HERMES_HOME, fleet.hermesHome);
  t.is(viewer.HERMES_KANBAN_HOME, path.join(fleet.stateDir, 'denied', 'viewer'), 'the shared root is not its kanban home');
  t.is(viewer.HERMES_KANBAN_DISPATCH_IN_GATEWAY, '0');
  t.is(viewer.HERMES_KANBAN_DB, undefined);
  t.is(viewer.VIEW_MODE, 'read');
  t.is(viewer.HERMES_SUPERVISED_CHILD, '1');
  t.is(viewer.HERMES_GATEWAY_EXTERNAL_SUPERVISOR, undefined, 'a service is no gateway of the external-supervisor contract');
  const dashboard = processEnv(pidOf('dashboard'));
  t.is(dashboard.HERMES_KANBAN_HOME, fleet.hermesHome, 'the granted service gets the shared root');

  const json = await fleet.cli('status', '--json');
  t.is(json.code, 0, json.stderr);
  const rows = JSON.parse(json.stdout).profiles as Array<{ name: string; kind: string; state: string; pid: number; grant: boolean; heartbeat: unknown }>;
  t.like(rows.find((row) => row.name === 'viewer'), { kind: 'service', state: 'running', pid: pidOf('viewer'), grant: false, heartbeat: null });
  t.like(rows.find((row) => row.name === 'dashboard'), { kind: 'service', state: 'running', grant: true });
  t.like(rows.find((row) => row.name === 'alpha'), { kind: 'gateway' });

  const text = await fleet.cli('status');
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /│ service\s+│ state\s+│ pid\s+│ kanban\s+│/);
  t.regex(text.stdout, new RegExp(`│ viewer\\s+│ running\\s+│ ${pidOf('viewer')}\\s+│ no\\s+│`));
  t.notRegex(text.stdout, /service\.kanban=false/, 'services are not in the profiles table');
});

/** Rows the dashboard stand-in wrote into a board file. */
function dashboardRows(board: string): number {
  const db = new Database(board, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM task_events WHERE kind = 'dashboard.event'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const spawnPids = (events: Events, name: string) => ofType(events, 'gateway.spawn', name).map((event) => event.pid as number);

test.serial('a granted service holding the board is fenced by a swap and brought back onto the new file in the wave', async (t) => {
  const dir = makeFleetDir(t, 'hs-svc-swap-');
  const fleet = await startFleet(t, {
    dir,
    board: true,
    profiles: { h1: { mode: 'hold', grant: true, intervalMs: 100 }, quiet: { mode: 'idle', grant: false } },
    config: brisk({ services: { dashboard: { command: standIn(dir.root, 'dashboard'), kanban: true } } }),
    ready: false,
  });
  await fleet.waitForEvent((all) => ['h1', 'quiet', 'dashboard'].every((name) => ofType(all, 'gateway.ready', name).length === 1));
  // The stand-in holds its connection and writes: the board is held by the service before the swap.
  await fleet.waitForEvent(() => writesOf(fleet.log('dashboard')).length >= 3);
  const oldIno = readIdentity(fleet.board)!.ino;

  swaps.rmRecreate(fleet.board);
  const events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length >= 1);
  const fence = ofType(events, 'board.fence')[0]!;
  t.true((fence.profiles as string[]).includes('dashboard'), `the fence names the service: ${JSON.stringify(fence.profiles)}`);
  t.true((fence.profiles as string[]).includes('h1'));
  t.false((fence.profiles as string[]).includes('quiet'));
  const done = ofType(events, 'wave.done')[0]!;
  t.true((done.restarted as string[]).includes('dashboard'));
  t.deepEqual(done.failed, []);
  t.is(spawnPids(events, 'dashboard').length, 2, 'the service came back once');
  t.is(spawnPids(events, 'quiet').length, 1, 'a gateway off the board kept its pid');

  // ext4 may give the new file the old inode number: the new pid's writes are what show the new file.
  const swap = ofType(events, 'board.swap')[0]!;
  t.is((swap.old as { ino: number }).ino, oldIno);
  const newIno = readIdentity(fleet.board)!.ino;
  const newPid = () => spawnPids(fleet.events(), 'dashboard')[1];
  await fleet.waitForEvent(() => writesOf(fleet.log('dashboard')).filter((write) => write.pid === newPid() && write.ino === newIno).length >= 3);
  const bad = errorsOf(fleet.log('dashboard')).filter((error) => error.ino === newIno && /disk I\/O|malformed|not a database/i.test(error.error));
  t.deepEqual(bad, [], 'the service saw no I/O or corruption error on the new file');
  t.true(dashboardRows(fleet.board) >= 3, 'the new board has the service\'s rows');
  t.is(integrityCheck(fleet.board), 'ok');

  const status = JSON.parse((await fleet.cli('status', '--json')).stdout) as { profiles: Array<{ name: string; kind: string; state: string; restarts: number; last_restart_reason: string }> };
  t.like(status.profiles.find((row) => row.name === 'dashboard'), { kind: 'service', state: 'running', restarts: 1 });
});

test('reload adds, removes and restarts services as it does profiles', async (t) => {
  const sleeper = (tag: string) => [python, '-c', 'import time; time.sleep(600)', tag];
  const fleet = await startFleet(t, {
    prefix: 'hs-svc-reload-',
    profiles: { alpha: { mode: 'idle' } },
    config: brisk({ services: { viewer: { command: sleeper('viewer') }, keeper: { command: sleeper('keeper') } } }),
    ready: false,
  });
  await fleet.waitForEvent((all) => ['alpha', 'viewer', 'keeper'].every((name) => ofType(all, 'gateway.ready', name).length === 1));
  const rewrite = (services: Record<string, unknown>) => {
    const config = parse(readFileSync(fleet.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(fleet.configFile, stringify({ ...config, services }));
  };

  rewrite({ keeper: { command: sleeper('keeper') }, dashboard: { command: sleeper('dashboard'), kanban: true } });
  const added = await fleet.cli('reload');
  t.is(added.code, 0, added.stderr);
  let events = await fleet.waitForEvent((all) => ofType(all, 'gateway.ready', 'dashboard').length === 1 && ofType(all, 'gateway.exit', 'viewer').length === 1);
  t.like(ofType(events, 'supervisor.reload')[0], { added: ['dashboard'], removed: ['viewer'], changed: [] });

  rewrite({ keeper: { command: sleeper('keeper') }, dashboard: { command: sleeper('dashboard'), kanban: false } });
  const changed = await fleet.cli('reload');
  t.is(changed.code, 0, changed.stderr);
  events = await fleet.waitForEvent((all) => ofType(all, 'wave.done').length === 1);
  t.like(ofType(events, 'supervisor.reload')[1], { added: [], removed: [], changed: ['dashboard'] });
  t.deepEqual(ofType(events, 'wave.done')[0]!.restarted, ['dashboard'], 'a grant taken away restarts the service');
  const pid = spawnPids(events, 'dashboard')[1]!;
  t.is(processEnv(pid).HERMES_KANBAN_HOME, path.join(fleet.stateDir, 'denied', 'dashboard'));
  t.is(spawnPids(events, 'keeper').length, 1, 'an unchanged service keeps its pid');
});
