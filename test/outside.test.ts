import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { checkText } from '../src/cli/format.js';
import type { CheckReport, StatusReport } from '../src/control/index.js';
import { gatewayUnitProfile, parseGatewayCommand, type OutsideReport } from '../src/outside/index.js';
import { runCli } from './helpers/cli.js';
import { python } from './helpers/fixture.js';
import { brisk, startFleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { ownProcesses } from './helpers/proc.js';
import type { Scope } from './helpers/scope.js';
import { tempDir } from './helpers/tempDir.js';
import { until } from './helpers/wait.js';

// Each test uses profile names of its own: tests run at once, and a gateway one test starts outside
// its fleet must not conflict with a profile another test's fleet supervises.

/** Hermes as installed: an entry-point script named `hermes` run by python (this one only idles). */
const HERMES_SCRIPT = '#!/usr/bin/env python3\nimport time\nwhile True:\n    time.sleep(60)\n';

function hermesScript(dir: string): string {
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  const file = path.join(dir, 'bin', 'hermes');
  writeFileSync(file, HERMES_SCRIPT, { mode: 0o755 });
  return file;
}

/** Starts `python3 <dir>/bin/hermes -p <profile> gateway run` outside any supervisor, killed when the test ends. */
async function outsideGateway(t: Scope, profile: string, env: NodeJS.ProcessEnv = {}): Promise<number> {
  const script = hermesScript(tempDir(t, 'hs-outside-'));
  const child = spawn(python, [script, '-p', profile, 'gateway', 'run'], { stdio: 'ignore', detached: true, env: { ...process.env, ...env } });
  child.unref();
  const pid = child.pid!;
  await until('the outside gateway to run', () => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gateway\0run'));
  return ownProcesses(t)(pid);
}

test('a Hermes gateway command line is told apart, however Hermes is invoked, with the profile -p names', (t) => {
  const parse = (argv: string[]) => parseGatewayCommand(argv)?.profile;
  t.is(parse(['python3', '/usr/bin/hermes', '-p', 'alpha', 'gateway', 'run']), 'alpha');
  t.is(parse(['/opt/venv/bin/python3.11', '/opt/venv/bin/hermes', 'gateway', 'run', '--replace', '-p', 'beta']), 'beta');
  t.is(parse(['/home/u/.hermes/venv/bin/hermes', '--profile', 'gamma', 'gateway', 'run', '--external-supervisor']), 'gamma');
  t.is(parse(['/opt/venv/bin/python', '-m', 'hermes_cli.main', '--profile=delta', 'gateway', 'run']), 'delta');
  t.is(parse(['hermes', 'gateway', 'run']), null, 'no -p: the root (default profile), or its HERMES_HOME');
  t.is(parseGatewayCommand(['hermes', 'gateway', 'status']), null);
  t.is(parseGatewayCommand(['hermes', '-p', 'alpha', 'chat']), null);
  t.is(parseGatewayCommand(['python3', '/srv/hermes_gateway.py', '--profile', 'alpha', 'gateway', 'run']), null);
  t.is(parseGatewayCommand(['python3', '-c', 'pass', 'hermes', 'gateway', 'run']), null);
});

test('Hermes gateway unit names map to their profiles', (t) => {
  t.deepEqual(gatewayUnitProfile('hermes-gateway.service'), { profile: 'default' });
  t.deepEqual(gatewayUnitProfile('hermes-gateway-alpha.service'), { profile: 'alpha' });
  t.deepEqual(gatewayUnitProfile('hermes-gateway@.service'), { profile: null });
  t.is(gatewayUnitProfile('hermes-dashboard.service'), null);
  t.is(gatewayUnitProfile('hermes-gateway-alpha.service.d'), null);
});

test('validate warns about a gateway started outside the supervisor, a unit that would start one and a foreign gateway.pid, exit 0', async (t) => {
  const fleet = makeFleetDir(t, 'hs-outside-validate-');
  // Per-profile gateways of Hermes 0.21 need its standalone shim.
  fleet.profile('vala', { gateway: { standalone: true } });
  fleet.profile('valb', { gateway: { standalone: true } });
  fleet.config({ gateway: { command: [hermesScript(fleet.root), '-p', '{profile}', 'gateway', 'run'] } });
  const home = tempDir(t, 'hs-outside-home-');
  const units = path.join(home, '.config', 'systemd', 'user');
  mkdirSync(units, { recursive: true });
  const unit = path.join(units, 'hermes-gateway-vala.service');
  writeFileSync(unit, '[Service]\nExecStart=/usr/bin/hermes --profile vala gateway run\n');
  const outsider = await outsideGateway(t, 'vala');
  // A gateway started some other way (its command line is no `hermes ... gateway run`), found through
  // the gateway.pid Hermes writes in the profile's home.
  const other = spawn(python, ['-c', 'import time; time.sleep(600)'], { stdio: 'ignore', detached: true });
  other.unref();
  ownProcesses(t)(other.pid!);
  writeFileSync(path.join(fleet.hermesHome, 'profiles', 'valb', 'gateway.pid'), JSON.stringify({ pid: other.pid, kind: 'hermes-gateway' }));

  const text = await runCli(['validate', '--config', fleet.configFile], { env: { HOME: home } });
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, new RegExp(`^warning: a Hermes gateway started outside the supervisor runs for profile vala \\(pid ${outsider}: \\S+ \\S+/bin/hermes -p vala gateway run\\); it will fight the supervised one: stop it or disable its unit$`, 'm'));
  t.regex(text.stdout, new RegExp(`^warning: a Hermes gateway started outside the supervisor runs for profile valb \\(pid ${other.pid}: `, 'm'));
  t.true(text.stdout.includes(`warning: systemd unit ${unit} would start a gateway outside the supervisor; disable it (systemctl --user disable --now hermes-gateway-vala)`));

  const json = await runCli(['validate', '--config', fleet.configFile, '--json'], { env: { HOME: home } });
  t.is(json.code, 0, json.stderr);
  const { outside } = JSON.parse(json.stdout) as { outside: OutsideReport };
  const found = outside.gateways.find((gateway) => gateway.pid === outsider);
  t.like(found, { profile: 'vala', supervised: true, environ_readable: true, other_supervisor: null, found_by: 'command' });
  t.like(outside.gateways.find((gateway) => gateway.pid === other.pid), { profile: 'valb', supervised: true, found_by: 'pid_file' });
  t.like(outside.units.find((entry) => entry.path === unit), { name: 'hermes-gateway-vala.service', scope: 'user', profile: 'vala', supervised: true });
});

test('check reports gateways outside the supervisor, fails for a supervised profile only, and never reports its own', async (t) => {
  const dir = makeFleetDir(t, 'hs-outside-check-');
  const home = tempDir(t, 'hs-outside-home-');
  // The fleet's own gateways match the pattern too: they must be told apart by the supervisor's marks.
  const fleet = await startFleet(t, {
    dir,
    gateway: [python, hermesScript(dir.root), '-p', '{profile}', 'gateway', 'run'],
    config: brisk(),
    profiles: { chka: { config: { gateway: { standalone: true } } }, chkb: { config: { gateway: { standalone: true } } } },
    env: { HOME: home },
  });
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout) as StatusReport;
  const own = status.profiles.flatMap((profile) => (profile.pid === null ? [] : [profile.pid]));
  t.is(own.length, 2);
  const check = async () => {
    const result = await fleet.cli('check', '--json');
    return { code: result.code, report: JSON.parse(result.stdout) as CheckReport };
  };

  const first = await check();
  t.is(first.code, 0, 'nothing outside yet');
  t.deepEqual(first.report.outside.gateways.filter((gateway) => own.includes(gateway.pid) || gateway.profile === 'chka'), [], "the supervisor's own gateways are never reported");

  const unsupervised = await outsideGateway(t, 'chkc');
  const reported = await check();
  t.is(reported.code, 0, 'a gateway for a profile the supervisor does not run is reported, not a conflict');
  t.like(reported.report.outside.gateways.find((gateway) => gateway.pid === unsupervised), { profile: 'chkc', supervised: false });

  const conflicting = await outsideGateway(t, 'chka');
  const failed = await fleet.cli('check');
  t.is(failed.code, 1, failed.stdout);
  t.regex(failed.stdout, /^gateways outside the supervisor:$/m);
  t.regex(failed.stdout, new RegExp(`│ chka\\s+│ ${conflicting}\\s+│ CONFLICT \\(supervised profile\\)\\s+│ \\S+ \\S+/bin/hermes -p chka gateway run`));
  t.regex(failed.stdout, new RegExp(`│ chkc\\s+│ ${unsupervised}\\s+│ not supervised`));
});

test('check says "none" when nothing runs outside the supervisor, and names a unit otherwise', (t) => {
  const report: CheckReport = { audit_ms: 1, holders: [], stale: [], violations: [], foreign: [], integrity: [], wal_reset_risk: [], outside: { gateways: [], units: [] } };
  t.regex(checkText(report), /^gateways outside the supervisor: none$/m);
  const unit = { name: 'hermes-gateway.service', path: '/etc/systemd/system/hermes-gateway.service', scope: 'system' as const, profile: 'default', supervised: true };
  t.regex(checkText({ ...report, outside: { gateways: [], units: [unit] } }), /^unit \/etc\/systemd\/system\/hermes-gateway\.service \(a supervised profile\): disable it \(sudo systemctl disable --now hermes-gateway\)$/m);
});
