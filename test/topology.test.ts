import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { servedProfileNames } from '../src/hermes/index.js';
import { runCli } from './helpers/cli.js';
import { ofType } from './helpers/events.js';
import { startFleet, brisk } from './helpers/fleet.js';
import { makeFleetDir, type FleetDir } from './helpers/fleetDir.js';
import { until } from './helpers/wait.js';

interface StatusProfile {
  name: string;
  state: string;
  pid: number | null;
  folded: string[] | null;
}

/** A stand-in `hermes` for `validate`, which checks the program exists but starts nothing. */
function hermesCommand(fleet: FleetDir, ...extra: string[]): string[] {
  mkdirSync(path.join(fleet.root, 'bin'), { recursive: true });
  const hermes = fleet.script(path.join('bin', 'hermes'), '#!/bin/sh\nexit 0\n');
  return [hermes, '-p', '{profile}', 'gateway', 'run', '--external-supervisor', ...extra];
}

const validate = (fleet: FleetDir, ...args: string[]) => runCli(['validate', '--config', fleet.configFile, ...args]);

test('per-profile: validate refuses a named Hermes gateway without gateway.standalone: true, naming its file and the key', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway: { command: hermesCommand(fleet) } });
  fleet.profile('default', {});
  const alpha = fleet.profile('alpha', { gateway: { standalone: false } });
  const result = await validate(fleet);
  t.is(result.code, 2, result.stderr);
  const lines = result.stderr.trim().split('\n');
  t.is(lines.length, 1, 'the default profile is the host gateway and needs no key');
  t.true(lines[0]!.includes(`${alpha}: gateway.standalone: is not true`), lines[0]);
  t.regex(lines[0]!, /exit 75 under a supervisor/);
  t.true(lines[0]!.includes(`set topology: host in ${fleet.configFile}`), lines[0]);
});

test('per-profile: gateway.standalone as Hermes reads it (a truthy token), or --force, is accepted', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway: { command: hermesCommand(fleet) } });
  fleet.profile('alpha', { gateway: { standalone: true } });
  fleet.profile('beta', { gateway: { standalone: 'yes' } });
  fleet.profile('gamma', { supervisor: { command: hermesCommand(fleet, '--force') } });
  const result = await validate(fleet);
  t.is(result.code, 0, result.stderr);
  fleet.profile('gamma', {});
  t.is((await validate(fleet)).code, 2, 'gamma without --force or the key is refused');
});

test('validate names the topology, the Hermes mechanism it relies on and Hermes\'s deprecation of the shim', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway: { command: hermesCommand(fleet) } });
  fleet.profile('alpha', { gateway: { standalone: true } });
  const text = await validate(fleet);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^topology: +per-profile$/m);
  t.regex(text.stdout, /^ {2}hermes: .*gateway\.standalone: true \(or --force\)/m);
  t.regex(text.stdout, /^ {2}caveat: .*temporary compatibility shim.*hermes gateway migrate --multiplex/m);
  const json = await validate(fleet, '--json');
  const report = JSON.parse(json.stdout) as { topology: { topology: string; mechanism: string; deprecation?: string } };
  t.is(report.topology.topology, 'per-profile');
  t.regex(report.topology.deprecation ?? '', /temporary compatibility shim/);
});

test('host: validate lists named profiles as served by the host gateway, says what the grant means and warns of ignored keys', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ topology: 'host', gateway: { command: hermesCommand(fleet) } });
  const alpha = fleet.profile('alpha', { supervisor: { command: ['/no/such/gateway'], env: { FOO: 'bar' }, enabled: false } });
  const text = await validate(fleet);
  t.is(text.code, 0, `no default config.yaml is needed, a named command is never run: ${text.stderr}`);
  t.regex(text.stdout, /^topology: +host$/m);
  t.regex(text.stdout, /^ {2}grant: .*dispatches for every profile/m);
  t.regex(text.stdout, /│ default +│.*│ .*bin\/hermes -p default gateway run/);
  t.regex(text.stdout, /│ alpha +│.*│ served by the host gateway +│/);
  t.true(text.stdout.includes(`warning: alpha: supervisor.command and supervisor.env ignored in topology: host (the host gateway serves this profile; ${alpha})`), text.stdout);
  t.regex(text.stdout, /warning: alpha: supervisor\.enabled: false ignored in topology: host/);
  const report = JSON.parse((await validate(fleet, '--json')).stdout) as { topology: { topology: string }; profiles: Array<{ name: string; role: string; enabled: boolean }> };
  t.is(report.topology.topology, 'host');
  t.deepEqual(
    report.profiles.map(({ name, role, enabled }) => ({ name, role, enabled })),
    [
      { name: 'alpha', role: 'hosted', enabled: false },
      { name: 'default', role: 'host', enabled: true },
    ],
  );
});

test('host: the supervisor runs one gateway, the default profile\'s with HERMES_HOME = hermes_home; status shows named profiles hosted', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk({ topology: 'host' }),
    profiles: { alpha: { grant: true }, beta: { config: { supervisor: { env: { FOO: 'bar' } } } } },
    ready: false,
  });
  const events = await fleet.waitForEvent((seen) => ofType(seen, 'gateway.ready').length >= 1);
  const spawns = ofType(events, 'gateway.spawn');
  t.deepEqual(spawns.map((event) => event.profile), ['default']);
  // Hermes's state file lands in the gateway's HERMES_HOME: the Hermes root.
  const state = JSON.parse(readFileSync(path.join(fleet.hermesHome, 'gateway_state.json'), 'utf8')) as { pid: number; hermes_home: string };
  t.is(state.pid, spawns[0]!.pid as number);
  t.is(state.hermes_home, fleet.hermesHome);
  t.regex(fleet.supervisor.output(), /warning: beta: supervisor\.env ignored in topology: host/);

  const status = await fleet.cli('status', '--json');
  const profiles = (JSON.parse(status.stdout) as { profiles: StatusProfile[] }).profiles;
  const shown = Object.fromEntries(profiles.map(({ name, state: s, pid }) => [name, { state: s, pid }]));
  t.deepEqual(shown, {
    default: { state: 'running', pid: state.pid },
    alpha: { state: 'hosted', pid: null },
    beta: { state: 'hosted', pid: null },
  });
  t.regex((await fleet.cli('status')).stdout, /│ alpha +│ hosted +│ - +│/);
});

test('a gateway whose state file says it serves other profiles raises gateway.folded once per run, shown in status', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk(),
    profiles: { alpha: { args: ['--served-profiles', 'alpha,beta', '--heartbeat-ms', '200'] }, beta: { args: [] } },
  });
  const folded = await fleet.waitForEvent((seen) => ofType(seen, 'gateway.folded').length >= 1);
  const event = ofType(folded, 'gateway.folded')[0]!;
  t.is(event.profile, 'alpha');
  t.deepEqual(event.served, ['alpha', 'beta']);
  t.is(event.pid, ofType(folded, 'gateway.spawn', 'alpha')[0]!.pid);

  // The state file is re-stamped by its heartbeat; the supervisor read it once, at ready.
  const stateWrites = () => readFileSync(path.join(fleet.logsDir, 'alpha.jsonl'), 'utf8').split('\n').filter((line) => line.includes('"event": "state"')).length;
  await until('two heartbeats after ready', () => stateWrites() >= 4, 20_000);
  t.is(ofType(fleet.events(), 'gateway.folded').length, 1);

  const profiles = (JSON.parse((await fleet.cli('status', '--json')).stdout) as { profiles: StatusProfile[] }).profiles;
  t.deepEqual(profiles.find((p) => p.name === 'alpha')?.folded, ['beta']);
  t.is(profiles.find((p) => p.name === 'beta')?.folded, null);
  t.regex((await fleet.cli('status')).stdout, /│ alpha +│ running FOLDED \(serves beta\) +│/);
});

test('served_profiles is read as Hermes writes it: names, or {profile_id, home} records', (t) => {
  t.deepEqual(servedProfileNames(['default', 'alpha']), ['default', 'alpha']);
  t.deepEqual(servedProfileNames([{ profile_id: 'default', home: '/h' }, { profile_id: 'alpha', home: '/h/profiles/alpha' }]), ['default', 'alpha']);
  t.is(servedProfileNames(undefined), null);
});
