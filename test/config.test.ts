import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { runCli } from './helpers/cli.js';
import { makeFleetDir } from './helpers/fleetDir.js';

const gateway = { command: ['python3', '-c', 'pass', '{profile}'] };

interface BadCase {
  name: string;
  /** Raw YAML for the supervisor config (hermes_home/state_dir are added when it is an object). */
  config: string | Record<string, unknown>;
  profiles?: Record<string, unknown>;
  /** Which file the message must name: the supervisor config, or a profile's. */
  file: 'config' | string;
  key?: string;
  expect: RegExp;
}

const badCases: BadCase[] = [
  { name: 'YAML syntax error', config: 'gateway:\n  command: [python3\n  env: {', file: 'config', expect: /:\d+: invalid YAML/ },
  { name: 'unknown top-level key', config: { gateway, restrat: {} }, file: 'config', key: 'restrat', expect: /did you mean "restart"/ },
  { name: 'unknown nested key', config: { gateway, restart: { stop_timout: '5s' } }, file: 'config', key: 'restart.stop_timout', expect: /did you mean "stop_timeout"/ },
  { name: 'wrong type for a count', config: { gateway, restart: { max_parallel: 'two' } }, file: 'config', key: 'restart.max_parallel', expect: /whole number/ },
  { name: 'bad duration', config: { gateway, restart: { stop_timeout: '10 parsecs' } }, file: 'config', key: 'restart.stop_timeout', expect: /duration like/ },
  { name: 'duration given as a number', config: { gateway, restart: { debounce: 250 } }, file: 'config', key: 'restart.debounce', expect: /duration string/ },
  { name: 'negative count', config: { gateway, restart: { give_up: { crashes: -1 } } }, file: 'config', key: 'restart.give_up.crashes', expect: />= 1/ },
  { name: 'fenced_parallel of 0', config: { gateway, restart: { fenced_parallel: 0 } }, file: 'config', key: 'restart.fenced_parallel', expect: /whole number >= 1/ },
  { name: 'missing gateway.command', config: { gateway: { env: {} } }, file: 'config', key: 'gateway.command', expect: /required/ },
  { name: 'command as a shell string', config: { gateway: { command: 'hermes -p x gateway run' } }, file: 'config', key: 'gateway.command', expect: /list of strings/ },
  { name: 'grant variable in gateway.env', config: { gateway: { ...gateway, env: { HERMES_KANBAN_DB: '/x.db' } } }, file: 'config', key: 'gateway.env.HERMES_KANBAN_DB', expect: /set by the supervisor/ },
  { name: 'an env name a map cannot hold', config: { gateway: { ...gateway, env: { constructor: 'x' } } }, file: 'config', key: 'gateway.env.constructor', expect: /expected another name/ },
  { name: 'a service name a map cannot hold', config: { gateway, services: { prototype: { command: ['python3'] } } }, file: 'config', key: 'services.prototype', expect: /expected another name/ },
  { name: 'bad kanban.boards', config: { gateway, kanban: { boards: 'all' } }, file: 'config', key: 'kanban.boards', expect: /"auto" or a list/ },
  { name: 'bad enum', config: { gateway, kanban: { on_corruption: 'explode' } }, file: 'config', key: 'kanban.on_corruption', expect: /rebuild|stop/ },
  { name: 'bad topology', config: { gateway, topology: 'mesh' }, file: 'config', key: 'topology', expect: /expected "per-profile" or "host", got "mesh"$/ },
  { name: 'hook as a string', config: { gateway, hooks: { pre_restart: './check.sh' } }, file: 'config', key: 'hooks.pre_restart', expect: /list of strings/ },
  { name: 'missing binary', config: { gateway: { command: ['no-such-gateway-binary-xyz'] } }, profiles: { alpha: {} }, file: 'config', key: 'gateway.command[0]', expect: /not found/ },
  { name: 'profile: wrong type', config: { gateway }, profiles: { alpha: { kanban: { enabled: 'yes' } } }, file: 'alpha', key: 'kanban.enabled', expect: /expected true or false, got "yes"$/ },
  { name: 'profile: invalid YAML', config: { gateway }, profiles: { alpha: 'kanban: [unclosed\n' }, file: 'alpha', expect: /invalid YAML/ },
  { name: 'profile: unknown supervisor key', config: { gateway }, profiles: { alpha: { supervisor: { priorty: 1 } } }, file: 'alpha', key: 'supervisor.priorty', expect: /did you mean "priority"/ },
  { name: 'socket path too long for a Unix socket', config: { gateway, control: { socket: `/tmp/${'s'.repeat(110)}.sock` } }, file: 'config', key: 'control.socket', expect: /too long/ },
  {
    name: 'profile: alias bomb',
    config: { gateway },
    profiles: { alpha: 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n' },
    file: 'alpha',
    expect: /invalid YAML: .*alias/i,
  },
  { name: 'profile: command as a string', config: { gateway }, profiles: { alpha: { supervisor: { command: 'run me' } } }, file: 'alpha', key: 'supervisor.command', expect: /list of strings/ },
];

for (const bad of badCases) {
  test(`bad config exits 2 naming file and key: ${bad.name}`, async (t) => {
    const fleet = makeFleetDir(t);
    if (typeof bad.config === 'string') {
      writeFileSync(fleet.configFile, `hermes_home: ${fleet.hermesHome}\nstate_dir: ${fleet.stateDir}\n${bad.config}`);
    } else {
      fleet.config(bad.config);
    }
    const profileFiles: Record<string, string> = {};
    for (const [name, config] of Object.entries(bad.profiles ?? {})) profileFiles[name] = fleet.profile(name, config);

    const result = await runCli(['validate', '--config', fleet.configFile]);
    t.is(result.code, 2, result.stderr);
    t.is(result.stdout, '');
    const file = bad.file === 'config' ? fleet.configFile : profileFiles[bad.file]!;
    const line = result.stderr.split('\n').find((text) => text.includes(file));
    t.truthy(line, `stderr names ${file}: ${result.stderr}`);
    if (bad.key) t.true(line!.includes(`: ${bad.key}: `), `names key ${bad.key}: ${line}`);
    t.regex(line!, bad.expect);
    t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('a profile whose config.yaml is a dangling symlink is an error naming it, not a silent skip', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway });
  const home = path.join(fleet.hermesHome, 'profiles', 'alpha');
  mkdirSync(home, { recursive: true });
  symlinkSync(path.join(fleet.root, 'moved-away.yaml'), path.join(home, 'config.yaml'));
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 2);
  t.regex(result.stderr, new RegExp(`${path.join(home, 'config.yaml').replace(/[.]/g, '\\.')}: .*ENOENT`));
});

test('a missing --config file exits 2 naming it', async (t) => {
  const result = await runCli(['validate', '--config', '/nonexistent/supervisor.yaml']);
  t.is(result.code, 2);
  t.regex(result.stderr, /\/nonexistent\/supervisor\.yaml: config file not found/);
});

test('start with a bad config exits 2 and starts nothing', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway: { command: ['no-such-gateway-binary-xyz'] } });
  fleet.profile('alpha', {});
  const result = await runCli(['start', '--config', fleet.configFile]);
  t.is(result.code, 2);
  t.regex(result.stderr, /gateway\.command\[0\]/);
  t.deepEqual(fleet.events(), []);
});

test('validate --json prints the fleet plan with grants, commands and env', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway: { command: ['python3', '-c', 'pass', '--profile={profile}'], env: { LOG_LEVEL: 'debug', API_TOKEN: 'hunter2' } } });
  fleet.profile('default', { kanban: { dispatch_in_gateway: true } });
  fleet.profile('worker', { kanban: { enabled: true }, supervisor: { env: { EXTRA: 1 }, priority: 5 } });
  fleet.profile('quiet', { kanban: { enabled: false, dispatch_in_gateway: true } });
  fleet.profile('chat', { model: { default: 'x' } });
  fleet.profile('off', { supervisor: { enabled: false } });
  mkdirSync(path.join(fleet.hermesHome, 'profiles', 'Bad Name'));
  mkdirSync(path.join(fleet.hermesHome, 'kanban', 'boards', 'ops'), { recursive: true });
  writeFileSync(path.join(fleet.hermesHome, 'kanban', 'boards', 'ops', 'kanban.db'), '');

  const result = await runCli(['validate', '--config', fleet.configFile, '--json']);
  t.is(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout);
  t.is(plan.config, fleet.configFile);
  t.is(plan.hermes_home, fleet.hermesHome);
  t.is(plan.state_dir, fleet.stateDir);
  const byName = Object.fromEntries(plan.profiles.map((p: { name: string }) => [p.name, p]));
  t.deepEqual(Object.keys(byName).sort(), ['chat', 'default', 'off', 'quiet', 'worker']);
  t.deepEqual(plan.profiles[0].name, 'worker', 'priority 5 comes first');

  t.like(byName.default, { grant: true, grant_reason: 'kanban.dispatch_in_gateway', config: path.join(fleet.hermesHome, 'config.yaml') });
  t.deepEqual(byName.default.command, ['python3', '-c', 'pass', '--profile=default']);
  t.like(byName.default.env, {
    HERMES_HOME: fleet.hermesHome,
    HERMES_KANBAN_HOME: fleet.hermesHome,
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '1',
    HERMES_KANBAN_NOTIFY_IN_GATEWAY: '1',
    LOG_LEVEL: 'debug',
    API_TOKEN: '***',
  });
  t.like(byName.worker, { grant: true, grant_reason: 'kanban.enabled' });
  t.like(byName.worker.env, { EXTRA: '1', HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0', HERMES_HOME: path.join(fleet.hermesHome, 'profiles', 'worker') });
  t.like(byName.quiet, { grant: false, grant_reason: 'kanban.enabled=false' });
  t.like(byName.quiet.env, {
    HERMES_KANBAN_HOME: path.join(fleet.stateDir, 'denied', 'quiet'),
    HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0',
    HERMES_KANBAN_NOTIFY_IN_GATEWAY: '0',
  });
  t.like(byName.chat, { grant: false, grant_reason: 'not configured' });
  t.like(byName.off, { enabled: false });

  t.deepEqual(plan.boards, [
    { slug: 'default', path: path.join(fleet.hermesHome, 'kanban.db') },
    { slug: 'ops', path: path.join(fleet.hermesHome, 'kanban', 'boards', 'ops', 'kanban.db') },
  ]);
  t.true(plan.warnings.some((w: string) => w.includes('Bad Name') && w.includes('not a valid profile name')));
  t.true(plan.warnings.some((w: string) => w.startsWith('chat:') && w.includes('least privilege')));
  t.false(result.stdout.includes('hunter2'), 'secrets never printed');
  t.false(JSON.stringify(plan.profiles).includes('Bad Name'), 'an invalid name never reaches a command');
});

test('validate warns when more than one profile dispatches', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway });
  fleet.profile('one', { kanban: { dispatch_in_gateway: true } });
  fleet.profile('two', { kanban: { dispatch_in_gateway: true } });
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 0);
  t.regex(result.stdout, /warning: profiles one, two all dispatch/);
  t.regex(result.stdout, /least privilege/);
  t.regex(result.stdout, /│ one\s+│ yes \(dispatch\)/);
});

test('config resolution: --config beats HERMES_SUPERVISOR_CONFIG beats ./supervisor/supervisor.yaml', async (t) => {
  const fleet = makeFleetDir(t);
  const write = (file: string, home: string) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `hermes_home: ${home}\ngateway:\n  command: [python3]\n`);
    return file;
  };
  const local = write(path.join(fleet.root, 'supervisor', 'supervisor.yaml'), './from-local');
  const fromEnv = write(path.join(fleet.root, 'env.yaml'), './from-env');
  const explicit = write(path.join(fleet.root, 'explicit.yaml'), '~/from-explicit');
  const home = (stdout: string) => JSON.parse(stdout).hermes_home as string;

  const plain = await runCli(['validate', '--json'], { cwd: fleet.root, env: { HERMES_SUPERVISOR_CONFIG: '' } });
  t.is(home(plain.stdout), path.join(fleet.root, 'supervisor', 'from-local'), 'relative to the config file');
  const viaEnv = await runCli(['validate', '--json'], { cwd: fleet.root, env: { HERMES_SUPERVISOR_CONFIG: fromEnv } });
  t.is(home(viaEnv.stdout), path.join(fleet.root, 'from-env'));
  const viaFlag = await runCli(['validate', '--json', '--config', explicit], { cwd: fleet.root, env: { HERMES_SUPERVISOR_CONFIG: fromEnv, HOME: fleet.root } });
  t.is(home(viaFlag.stdout), path.join(fleet.root, 'from-explicit'), '~ expands');
  t.truthy(local);
});

test('a state dir that is a file fails validate and start with exit 2 naming state_dir', async (t) => {
  const fleet = makeFleetDir(t);
  const file = path.join(fleet.root, 'not-a-dir');
  writeFileSync(file, '');
  fleet.config({ gateway, state_dir: file });
  fleet.profile('alpha', {});
  for (const command of ['validate', 'start']) {
    const result = await runCli([command, '--config', fleet.configFile]);
    t.is(result.code, 2, `${command}: ${result.stderr}`);
    t.regex(result.stderr, new RegExp(`^hermes-supervisor: ${fleet.configFile.replace(/[.]/g, '\\.')}: state_dir: state dir .* is not a directory`, 'm'));
  }
});

test('a state dir others may write to fails validate naming state_dir and the fix', async (t) => {
  const fleet = makeFleetDir(t);
  mkdirSync(fleet.stateDir);
  chmodSync(fleet.stateDir, 0o777);
  fleet.config({ gateway });
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, /: state_dir: .*writable by group or others .*chmod go-w/);
});

test('a profile folder whose name Hermes refuses is an error naming the folder and the rule', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway });
  fleet.profile('alpha', {});
  const bad = path.join(fleet.hermesHome, 'profiles', 'Worker');
  mkdirSync(bad);
  writeFileSync(path.join(bad, 'config.yaml'), '{}\n');
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, new RegExp(`^hermes-supervisor: ${bad}: folder name "Worker" is not a valid Hermes profile name \\(lowercase letters`, 'm'));
});

test('config errors come out in file and line order', async (t) => {
  const fleet = makeFleetDir(t);
  writeFileSync(fleet.configFile, `hermes_home: ${fleet.hermesHome}\nstate_dir: ${fleet.stateDir}\nrestart:\n  max_parallel: two\ngateway:\n  command: run-me\n`);
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 2, result.stderr);
  const lines = result.stderr.trim().split('\n');
  t.is(lines.length, 2, result.stderr);
  t.regex(lines[0]!, /:4: restart\.max_parallel: /);
  t.regex(lines[1]!, /:6: gateway\.command: /);
});

test('validate warns, and only warns, when restart.stop_timeout is below what a Hermes gateway needs to drain', async (t) => {
  const fleet = makeFleetDir(t);
  mkdirSync(path.join(fleet.root, 'bin'));
  const hermes = fleet.script(path.join('bin', 'hermes'), '#!/bin/sh\nexit 0\n');
  fleet.profile('alpha', { gateway: { standalone: true } });
  const validate = async (config: Record<string, unknown>) => {
    fleet.config(config);
    const result = await runCli(['validate', '--config', fleet.configFile]);
    t.is(result.code, 0, result.stderr);
    return result.stdout.split('\n').filter((line) => line.includes('stop_timeout'));
  };
  const hermesGateway = { command: [hermes, '-p', '{profile}', 'gateway', 'run', '--external-supervisor'] };
  t.deepEqual(await validate({ gateway: hermesGateway, restart: { stop_timeout: '10s' } }), [
    'warning: restart.stop_timeout is 10s, below the 70s Hermes gives its own gateway to drain and stop (its unit\'s TimeoutStopSec); alpha may be killed mid-drain: set restart.stop_timeout to 75s or more',
  ]);
  t.deepEqual(await validate({ gateway: hermesGateway }), [], 'the default (75s) fits');
  t.deepEqual(await validate({ gateway, restart: { stop_timeout: '10s' } }), [], 'a command that is not Hermes drains nothing');
});

test('validate warns, and only warns, when health.watch is off: swaps are then left to the poll', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.profile('alpha', {});
  const validate = async (health: Record<string, unknown>) => {
    fleet.config({ gateway, health });
    const result = await runCli(['validate', '--config', fleet.configFile]);
    t.is(result.code, 0, result.stderr);
    return result.stdout.split('\n').filter((line) => line.includes('health.watch'));
  };
  const [warning, ...more] = await validate({ watch: false, poll_interval: '5s' });
  t.deepEqual(more, []);
  t.regex(warning!, /^warning: health\.watch is false: a replaced board is noticed only by the stat poll \(every 5s\)/);
  t.regex(warning!, /keep health\.watch: true/);
  t.deepEqual(await validate({}), [], 'file events are on by default');
});
