import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import anyTest, { type TestFn } from 'ava';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { checkText } from '../src/cli/format.js';
import { runCli, startSupervisor, type RunningSupervisor } from './helpers/cli.js';
import { pidsWithMarker } from './helpers/proc.js';
import { python } from './helpers/swapFleet.js';

/** One supervisor over one denied profile (alpha) and no board file, shared by every test here. */
interface Shared {
  root: string;
  configFile: string;
  marker: string;
  supervisor: RunningSupervisor;
}

const test = anyTest as TestFn<Shared>;

function writeFleet(root: string, marker: string, profiles: string[], profileConfig: object): string {
  const hermesHome = path.join(root, 'hermes');
  for (const name of profiles) {
    mkdirSync(path.join(hermesHome, 'profiles', name), { recursive: true });
    writeFileSync(path.join(hermesHome, 'profiles', name, 'config.yaml'), stringify(profileConfig));
  }
  const gateway = path.join(root, 'gateway.py');
  writeFileSync(gateway, 'import sys, time\nprint("up", sys.argv[1], flush=True)\ntime.sleep(600)\n');
  const configFile = path.join(root, 'supervisor.yaml');
  writeFileSync(
    configFile,
    stringify({
      hermes_home: hermesHome,
      state_dir: path.join(root, 'state'),
      gateway: { command: [python, gateway, `${marker}-{profile}`] },
      restart: { stop_timeout: '2s', ready_after: '200ms', debounce: '50ms' },
    }),
  );
  return configFile;
}

/** Polls the event log until `done` holds; a generous deadline turns a hang into a failure. */
async function waitForEvents(root: string, done: (types: string[]) => boolean): Promise<void> {
  const file = path.join(root, 'state', 'events.jsonl');
  const deadline = Date.now() + 60_000;
  for (;;) {
    let types: string[] = [];
    try {
      types = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { type: string }).type);
    } catch {
      // Not written yet.
    }
    if (done(types)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for events; seen: ${types.join(' ')}`);
    await sleep(50);
  }
}

async function startFleet(root: string, profiles: string[], profileConfig: object = {}): Promise<{ configFile: string; marker: string; supervisor: RunningSupervisor }> {
  const marker = `cli-${path.basename(root)}`;
  const configFile = writeFleet(root, marker, profiles, profileConfig);
  const supervisor = startSupervisor(['--config', configFile]);
  await waitForEvents(root, (types) => types.filter((type) => type === 'gateway.ready').length >= profiles.length);
  return { configFile, marker, supervisor };
}

async function stopFleet(root: string, marker: string, supervisor: RunningSupervisor): Promise<void> {
  supervisor.child.kill('SIGTERM');
  await Promise.race([supervisor.exited, sleep(10_000, undefined, { ref: false })]);
  supervisor.child.kill('SIGKILL');
  for (const pid of pidsWithMarker(marker)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
}

test.before(async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hs-cli-'));
  t.context = { root, ...(await startFleet(root, ['alpha'])) };
});

test.after.always(async (t) => {
  if (t.context.supervisor) await stopFleet(t.context.root, t.context.marker, t.context.supervisor);
});

const cli = (t: { context: Shared }, ...args: string[]) => runCli([...args, '--config', t.context.configFile], { timeoutMs: 120_000 });

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
  const result = await runCli(['kanban', '--config', t.context.configFile, 'init', '--board', 'nosuch'], { timeoutMs: 120_000 });
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
  const result = await runCli(['start', '--help'], { timeoutMs: 120_000 });
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
  });
  t.regex(text, /│ pid\s+│ command\s+│ board/);
  t.regex(text, /│ 4242\s+│ python3\s+│ default/);
  t.notRegex(text, /pid:python3/);
});

test('status after the supervisor was killed names the gateways still running', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hs-cli-kill-'));
  const fleet = await startFleet(root, ['beta']);
  t.teardown(() => stopFleet(root, fleet.marker, fleet.supervisor));
  fleet.supervisor.child.kill('SIGKILL');
  await fleet.supervisor.exited;
  const [pid] = pidsWithMarker(`${fleet.marker}-beta`);
  t.truthy(pid, 'the gateway outlived its supervisor');
  const result = await runCli(['status', '--config', fleet.configFile], { timeoutMs: 120_000 });
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /no supervisor is running/);
  t.regex(result.stderr, new RegExp(`still running unsupervised: beta \\(pid ${pid}\\)`));
});

test('a profile added by reload starts with no restarts counted', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hs-cli-reload-'));
  const fleet = await startFleet(root, ['beta']);
  t.teardown(() => stopFleet(root, fleet.marker, fleet.supervisor));
  const home = path.join(root, 'hermes', 'profiles', 'gamma');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'config.yaml'), '{}\n');
  const reload = await runCli(['reload', '--config', fleet.configFile], { timeoutMs: 120_000 });
  t.is(reload.code, 0, reload.stderr);
  t.regex(reload.stdout, /added: gamma/);
  await waitForEvents(root, (types) => types.filter((type) => type === 'gateway.ready').length >= 2);
  const status = await runCli(['status', '--json', '--config', fleet.configFile], { timeoutMs: 120_000 });
  const gamma = (JSON.parse(status.stdout) as { profiles: Array<{ name: string; restarts: number; state: string }> }).profiles.find((p) => p.name === 'gamma');
  t.like(gamma, { state: 'running', restarts: 0 });
});

test('status gives a gateway started before its board appeared the board\'s generation, not an older one', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hs-cli-board-'));
  const fleet = await startFleet(root, ['beta'], { kanban: { enabled: true, dispatch_in_gateway: false } });
  t.teardown(() => stopFleet(root, fleet.marker, fleet.supervisor));
  const db = new Database(path.join(root, 'hermes', 'kanban.db'));
  db.exec('CREATE TABLE tasks (id INTEGER PRIMARY KEY)');
  db.close();
  await waitForEvents(root, (types) => types.includes('board.new'));
  const status = await runCli(['status', '--json', '--config', fleet.configFile], { timeoutMs: 120_000 });
  const report = JSON.parse(status.stdout) as { boards: Array<{ generation: number }>; profiles: Array<{ name: string; grant: boolean; generation: number | null }> };
  t.like(report.profiles.find((p) => p.name === 'beta'), { grant: true, generation: report.boards[0]!.generation });
});
