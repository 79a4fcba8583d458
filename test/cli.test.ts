import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import Database from 'better-sqlite3';
import { checkText } from '../src/cli/format.js';
import { runCli } from './helpers/cli.js';
import { ofType } from './helpers/events.js';
import { python } from './helpers/fixture.js';
import { startFleet, type Fleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { endings, idleGateway, killOnceUp } from './helpers/orphans.js';
import { pidsWithMarker } from './helpers/proc.js';
import { sharedScope, type Scope } from './helpers/scope.js';

/** One supervisor over one denied profile (alpha) and no board file, shared by every test here. */
interface Shared {
  fleet: Fleet;
}

const test = anyTest as TestFn<Shared>;
const shared = sharedScope();

/** A fleet of gateways that print "up" and idle; `profileConfig` is each profile's config.yaml. */
function cliFleet(scope: Scope, prefix: string, profiles: string[], profileConfig: Record<string, unknown> = {}): Promise<Fleet> {
  const dir = makeFleetDir(scope, prefix);
  return startFleet(scope, {
    dir,
    gateway: [python, ...idleGateway(dir, '{profile}')],
    config: { restart: { stop_timeout: '2s', ready_after: '200ms', debounce: '50ms' } },
    profiles: Object.fromEntries(profiles.map((name) => [name, { config: profileConfig }])),
  });
}

test.before(async (t) => {
  t.context = { fleet: await cliFleet(shared, 'hs-cli-', ['alpha']) };
});

test.after.always(() => shared.close());

const cli = (t: { context: Shared }, ...args: string[]) => t.context.fleet.cli(...args);

const unknownProfile = /^hermes-supervisor: unknown profile: nosuch \(running profiles: alpha/m;

test('restart of an unknown profile exits 2 naming it and the running ones', async (t) => {
  const result = await cli(t, 'restart', 'nosuch');
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, unknownProfile);
});

test('stop of an unknown profile exits 2 naming it', async (t) => {
  const result = await cli(t, 'stop', 'nosuch');
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, unknownProfile);
});

test('start PROFILE and resume of an unknown profile exit 2 naming it', async (t) => {
  for (const verb of ['start', 'resume']) {
    const result = await cli(t, verb, 'nosuch');
    t.is(result.code, 2, `${verb}: ${result.stderr}`);
    t.regex(result.stderr, unknownProfile);
  }
});

test('start of a running gateway says it was already running', async (t) => {
  const result = await cli(t, 'start', 'alpha');
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^already running: alpha$/m);
  t.notRegex(result.stdout, /started: alpha/);
});

test('logs of an unknown profile exits 2 naming it and the known ones', async (t) => {
  const result = await cli(t, 'logs', 'nosuch');
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, /^hermes-supervisor: unknown profile: nosuch \(profiles: alpha\)$/m);
});

test('kanban init of an unknown board exits 2 naming the board, before any init_command complaint', async (t) => {
  const result = await cli(t, 'kanban', 'init', '--board', 'nosuch');
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, /^hermes-supervisor: unknown board "nosuch"; known: default$/m);
  t.notRegex(result.stderr, /init_command/);
});

test('kanban takes --config before its subcommand too', async (t) => {
  const result = await runCli(['kanban', '--config', t.context.fleet.configFile, 'init', '--board', 'nosuch']);
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, /unknown board "nosuch"/);
});

test('a bad option value exits 2 naming the option and what was expected', async (t) => {
  const result = await cli(t, 'logs', 'alpha', '-n', 'many');
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, /--lines.*many.*whole number/);
});

test('status gives a denied gateway no board generation', async (t) => {
  const result = await cli(t, 'status', '--json');
  t.is(result.code, 0, result.stderr);
  const alpha = (JSON.parse(result.stdout) as { profiles: Array<{ name: string; grant: boolean; generation: number | null }> }).profiles.find((p) => p.name === 'alpha');
  t.like(alpha, { grant: false, generation: null });
});

test('check says there are no holders rather than drawing empty tables', async (t) => {
  const result = await cli(t, 'check');
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^supervised holders: none$/m);
  t.regex(result.stdout, /^holders outside the fleet: none$/m);
  t.notRegex(result.stdout, /┌/);
});

test('start --help mentions start PROFILE', async (t) => {
  const result = await runCli(['start', '--help']);
  t.is(result.code, 0);
  t.regex(result.stdout, /start PROFILE/);
});

test('check shows an outside holder with its pid and command in their own columns', (t) => {
  const text = checkText({
    audit_ms: 1,
    holders: [],
    stale: [],
    violations: [],
    foreign: [{ pid: 4242, command: 'python3', board: 'default', generation: 1, role: 'db' }],
    integrity: [{ board: 'default', status: 'ok', detail: 'ok', duration_ms: 3 }],
    wal_reset_risk: [],
    outside: { gateways: [], units: [] },
  });
  t.regex(text, /│ pid\s+│ command\s+│ board/);
  t.regex(text, /│ 4242\s+│ python3\s+│ default/);
  t.notRegex(text, /pid:python3/);
});

test('status after the supervisor was killed names the gateways still running', async (t) => {
  const fleet = await cliFleet(t, 'hs-cli-kill-', ['beta']);
  await killOnceUp(fleet.supervisor, ['beta']);
  const [pid] = pidsWithMarker(path.join(fleet.root, 'gateway.py'));
  t.truthy(pid, 'the gateway outlived its supervisor');
  const afterKill = endings(fleet.root, [pid!]);
  const result = await fleet.cli('status');
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /no supervisor is running/);
  const records = path.join(fleet.stateDir, 'gateways.json');
  const recorded = existsSync(records) ? readFileSync(records, 'utf8') : '(no gateways.json)';
  const seen = fleet.events().map((event) => `${event.type}${event.pid ? `(${String(event.pid)})` : ''}`).join(' ');
  const fate = `just after the kill: ${afterKill}\nnow: ${endings(fleet.root, [pid!])}`;
  t.regex(result.stderr, new RegExp(`still running unsupervised: beta \\(pid ${pid}\\)`), `records: ${recorded}\nevents: ${seen}\n${fate}`);
});

test('a profile added by reload starts with no restarts counted', async (t) => {
  const fleet = await cliFleet(t, 'hs-cli-reload-', ['beta']);
  fleet.profile('gamma', {});
  const reload = await fleet.cli('reload');
  t.is(reload.code, 0, reload.stderr);
  t.regex(reload.stdout, /added: gamma/);
  await fleet.waitForEvent((events) => ofType(events, 'gateway.ready').length >= 2);
  const status = await fleet.cli('status', '--json');
  const gamma = (JSON.parse(status.stdout) as { profiles: Array<{ name: string; restarts: number; state: string }> }).profiles.find((p) => p.name === 'gamma');
  t.like(gamma, { state: 'running', restarts: 0 });
});

test('status gives a gateway started before its board appeared the board\'s generation, not an older one', async (t) => {
  const fleet = await cliFleet(t, 'hs-cli-board-', ['beta'], { kanban: { enabled: true, dispatch_in_gateway: false } });
  const db = new Database(fleet.board);
  db.exec('CREATE TABLE tasks (id INTEGER PRIMARY KEY)');
  db.close();
  await fleet.waitForEvent((events) => ofType(events, 'board.new').length >= 1);
  const status = await fleet.cli('status', '--json');
  const report = JSON.parse(status.stdout) as { boards: Array<{ generation: number }>; profiles: Array<{ name: string; grant: boolean; generation: number | null }> };
  t.like(report.profiles.find((p) => p.name === 'beta'), { grant: true, generation: report.boards[0]!.generation });
});
