import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parseDotenv } from '../src/plan/index.js';
import { runCli } from './helpers/cli.js';
import { ofType } from './helpers/events.js';
import { startFleet } from './helpers/fleet.js';
import { makeFleetDir, type FleetDir } from './helpers/fleetDir.js';
import { processEnv } from './helpers/proc.js';
import type { Scope } from './helpers/scope.js';
import { tempDir } from './helpers/tempDir.js';

const gateway = { command: ['python3', '-c', 'pass', '{profile}'] };
/** A value no message may show: it stands for a secret in a `.env`. */
const SECRET = 'Zq8sW3nR5tY7uI9oP1aS2dF4gH6jK';

/** A fleet folder whose managed `.env` folder is a temp dir of its own, so /etc/hermes never counts. */
function fleetWithManaged(t: Scope): { fleet: FleetDir; managed: string; env: NodeJS.ProcessEnv } {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway });
  const managed = tempDir(t, 'hs-managed-');
  return { fleet, managed, env: { HERMES_MANAGED_DIR: managed } };
}

const validate = (fleet: FleetDir, env: NodeJS.ProcessEnv = {}, json = false) =>
  runCli(['validate', '--config', fleet.configFile, ...(json ? ['--json'] : [])], { env });

const profileHome = (fleet: FleetDir, name: string) => path.join(fleet.hermesHome, 'profiles', name);

for (const name of ['tmp', 'default', 'hermes']) {
  test(`validate refuses a profile folder with the reserved name "${name}"`, async (t) => {
    const { fleet, env } = fleetWithManaged(t);
    fleet.profile('alpha', {});
    mkdirSync(profileHome(fleet, name));
    const result = await validate(fleet, env);
    t.is(result.code, 2, result.stderr);
    t.regex(result.stderr, new RegExp(`${profileHome(fleet, name)}: profile name "${name}" is reserved \\(Hermes reserves hermes, default, test, tmp, root, sudo`));
  });
}

test('start refuses a reserved profile folder and starts nothing', async (t) => {
  const { fleet, env } = fleetWithManaged(t);
  fleet.profile('sudo', {});
  const result = await runCli(['start', '--config', fleet.configFile], { env });
  t.is(result.code, 2);
  t.regex(result.stderr, /profiles\/sudo: profile name "sudo" is reserved/);
  t.deepEqual(fleet.events(), []);
});

test('a tombstoned profile is not planned, with a warning naming the tombstone', async (t) => {
  const { fleet, env } = fleetWithManaged(t);
  fleet.profile('alpha', {});
  fleet.profile('gone', { kanban: { enabled: true } });
  const tombstone = path.join(fleet.hermesHome, 'profiles', '.deleted', 'gone');
  mkdirSync(path.dirname(tombstone));
  writeFileSync(tombstone, 'deleted\n');
  const result = await validate(fleet, env, true);
  t.is(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout) as { profiles: Array<{ name: string }>; warnings: string[] };
  t.deepEqual(plan.profiles.map((profile) => profile.name), ['alpha']);
  t.true(plan.warnings.some((warning) => warning.includes(profileHome(fleet, 'gone')) && warning.includes(`tombstone ${tombstone}`)), plan.warnings.join('\n'));
  t.false(plan.warnings.some((warning) => warning.includes('.deleted:')), 'the tombstones folder is not reported as a profile');
});

test('a profile folder without config.yaml is planned and denied, and validate says so', async (t) => {
  const { fleet, env } = fleetWithManaged(t);
  mkdirSync(profileHome(fleet, 'bare'));
  const result = await validate(fleet, env, true);
  t.is(result.code, 0, result.stderr);
  const plan = JSON.parse(result.stdout) as { profiles: Array<Record<string, unknown>>; warnings: string[] };
  t.like(plan.profiles[0], { name: 'bare', enabled: true, grant: false, grant_reason: 'not configured' });
  t.like(plan.profiles[0]!.env as object, { HERMES_KANBAN_HOME: path.join(fleet.stateDir, 'denied', 'bare'), HERMES_KANBAN_DISPATCH_IN_GATEWAY: '0' });
  t.true(plan.warnings.some((warning) => warning.startsWith('bare: no config.yaml') && warning.includes('no kanban access')), plan.warnings.join('\n'));
});

test('a profile folder without config.yaml that others can change is refused', async (t) => {
  const { fleet, env } = fleetWithManaged(t);
  const home = profileHome(fleet, 'open');
  mkdirSync(home);
  chmodSync(home, 0o777);
  const result = await validate(fleet, env);
  t.is(result.code, 2);
  t.regex(result.stderr, new RegExp(`profile folder ${home} is not trusted: .*profile "open" is not run`));
});

test('start runs a profile without config.yaml, denied, and never a tombstoned one', async (t) => {
  const dir = makeFleetDir(t);
  const managed = tempDir(t, 'hs-managed-');
  mkdirSync(profileHome(dir, 'bare'));
  dir.profile('gone', { kanban: { enabled: true } });
  mkdirSync(path.join(dir.hermesHome, 'profiles', '.deleted'));
  writeFileSync(path.join(dir.hermesHome, 'profiles', '.deleted', 'gone'), 'deleted\n');
  const fleet = await startFleet(t, { dir, profiles: { plain: {} }, env: { HERMES_MANAGED_DIR: managed }, ready: false });
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.ready').length === 2);
  t.deepEqual(ofType(events, 'gateway.ready').map((event) => event.profile).sort(), ['bare', 'plain']);
  t.deepEqual(ofType(events, 'gateway.spawn', 'gone'), []);
  const env = processEnv(ofType(events, 'gateway.spawn', 'bare')[0]!.pid as number);
  t.is(env.HERMES_HOME, profileHome(fleet, 'bare'));
  t.is(env.HERMES_KANBAN_HOME, path.join(fleet.stateDir, 'denied', 'bare'));
  t.is(env.HERMES_KANBAN_NOTIFY_IN_GATEWAY, '0');
});

test('profiles_dir outside <hermes_home>/profiles is refused naming the key and what is expected', async (t) => {
  const fleet = makeFleetDir(t);
  const elsewhere = path.join(fleet.root, 'my-profiles');
  mkdirSync(elsewhere);
  fleet.config({ gateway, profiles_dir: elsewhere });
  const result = await validate(fleet);
  t.is(result.code, 2);
  t.regex(result.stderr, new RegExp(`${fleet.configFile}: profiles_dir: is ${elsewhere}, but Hermes finds "-p NAME" only under <hermes_home>/profiles; expected ${path.join(fleet.hermesHome, 'profiles')}`));
});

test('profiles_dir that resolves to <hermes_home>/profiles is accepted', async (t) => {
  const { fleet, env } = fleetWithManaged(t);
  const link = path.join(fleet.root, 'link-to-profiles');
  symlinkSync(path.join(fleet.hermesHome, 'profiles'), link);
  fleet.config({ gateway, profiles_dir: link });
  fleet.profile('alpha', {});
  const result = await validate(fleet, env, true);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(JSON.parse(result.stdout).profiles.map((profile: { name: string }) => profile.name), ['alpha']);
});

test('a profile .env that sets a kanban variable against the grant is refused, its value never shown', async (t) => {
  const { fleet, env } = fleetWithManaged(t);
  fleet.profile('chat', {});
  const file = path.join(profileHome(fleet, 'chat'), '.env');
  writeFileSync(file, `# secrets\nOPENAI_API_KEY=${SECRET}\nexport HERMES_KANBAN_HOME="${fleet.hermesHome}"\nHERMES_KANBAN_DB=${SECRET}.db\n`);
  const result = await validate(fleet, env);
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, new RegExp(`${file}:3: HERMES_KANBAN_HOME: Hermes loads this file over the supervisor's environment \\(override\\).*profile "chat" \\(denied\\)`));
  t.regex(result.stderr, new RegExp(`${file}:4: HERMES_KANBAN_DB: .*never sets HERMES_KANBAN_DB`));
  t.false(result.stderr.includes(SECRET), 'no value is printed');
  t.notRegex(result.stderr, /OPENAI_API_KEY/, 'other keys are left alone');
});

test('the managed .env (HERMES_MANAGED_DIR) is checked for every profile', async (t) => {
  const { fleet, managed, env } = fleetWithManaged(t);
  fleet.profile('alpha', {});
  fleet.profile('writer', { kanban: { enabled: true } });
  const file = path.join(managed, '.env');
  writeFileSync(file, `HERMES_KANBAN_DISPATCH_IN_GATEWAY=1\nHERMES_KANBAN_BUSY_TIMEOUT_MS=5000\n`);
  const result = await validate(fleet, env);
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, new RegExp(`${file}:1: HERMES_KANBAN_DISPATCH_IN_GATEWAY: .*profile "alpha" \\(denied\\), profile "writer" \\(granted\\)`));
  t.notRegex(result.stderr, /BUSY_TIMEOUT/, 'a lock timeout steers no board');
});

test('a .env that agrees with the grant is accepted', async (t) => {
  const { fleet, managed, env } = fleetWithManaged(t);
  fleet.profile('writer', { kanban: { enabled: true, dispatch_in_gateway: true } });
  fleet.profile('chat', {});
  writeFileSync(path.join(profileHome(fleet, 'writer'), '.env'), `HERMES_KANBAN_HOME=${fleet.hermesHome}\nHERMES_KANBAN_DISPATCH_IN_GATEWAY='1'\nHERMES_HOME=${profileHome(fleet, 'writer')} # its own\n`);
  writeFileSync(path.join(profileHome(fleet, 'chat'), '.env'), `export HERMES_KANBAN_NOTIFY_IN_GATEWAY=0\nAPI_TOKEN=${SECRET}\n`);
  writeFileSync(path.join(managed, '.env'), 'LOG_LEVEL=info\n');
  const result = await validate(fleet, env);
  t.is(result.code, 0, result.stderr);
  t.false(result.stdout.includes(SECRET));
});

test('an unreadable .env is an error naming it', async (t) => {
  const { fleet, env } = fleetWithManaged(t);
  fleet.profile('alpha', {});
  const file = path.join(profileHome(fleet, 'alpha'), '.env');
  // A folder in its place cannot be read as root either.
  mkdirSync(file);
  const result = await validate(fleet, env);
  t.is(result.code, 2);
  t.regex(result.stderr, new RegExp(`${file}: cannot read: EISDIR`));
});

test('parseDotenv reads KEY=VALUE lines with export, quotes and comments', (t) => {
  const entries = parseDotenv(['# comment', '', 'A=1', 'export B = "two words" # note', "C='x#y'", 'D=plain # trailing', 'not an assignment', 'E="q\\"uoted"', 'F='].join('\n'));
  t.deepEqual(
    entries.map(({ key, value, line }) => [key, value, line]),
    [['A', '1', 3], ['B', 'two words', 4], ['C', 'x#y', 5], ['D', 'plain', 6], ['E', 'q"uoted', 8], ['F', '', 9]],
  );
});
