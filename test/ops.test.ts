import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { runCli } from './helpers/cli.js';
import { ofType } from './helpers/events.js';
import { python } from './helpers/fixture.js';
import { startFleet, supervise, type Fleet } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { endings, idleGateway, killOnceUp } from './helpers/orphans.js';
import { pidsWithMarker } from './helpers/proc.js';

interface OpsFleet extends Fleet {
  marker: string;
}

/** A running supervisor over small python gateways that print and sleep. */
async function opsFleet(t: ExecutionContext, profiles: string[], extra: Record<string, unknown> = {}): Promise<OpsFleet> {
  const dir = makeFleetDir(t, 'hs-ops-');
  const marker = `ops-${path.basename(dir.root)}`;
  const fleet = await startFleet(t, {
    dir,
    gateway: [python, ...idleGateway(dir, `${marker}-{profile}`)],
    config: { restart: { stop_timeout: '2s', ready_after: '300ms', debounce: '50ms' }, ...extra },
    profiles: Object.fromEntries(profiles.map((name) => [name, {}])),
  });
  return { ...fleet, marker };
}

const runningPids = (fleet: OpsFleet, profile: string) => pidsWithMarker(`${fleet.marker}-${profile}`);

test('the control socket is 0600 and a second supervisor on the same state dir is refused', async (t) => {
  const fleet = await opsFleet(t, ['alpha']);
  const socket = path.join(fleet.stateDir, 'supervisor.sock');
  t.is(statSync(socket).mode & 0o777, 0o600);
  t.true(statSync(socket).isSocket());
  const second = await runCli(['start', '--config', fleet.configFile]);
  t.is(second.code, 1);
  t.regex(second.stderr, new RegExp(`another supervisor \\(pid ${fleet.supervisor.child.pid}\\) is already running`));
  t.is(runningPids(fleet, 'alpha').length, 1, 'still one gateway');
});

test('the state dir is locked: a second start is refused even with the socket file gone, and leaves the fleet alone', async (t) => {
  const fleet = await opsFleet(t, ['alpha']);
  const pid = runningPids(fleet, 'alpha')[0];
  const socket = path.join(fleet.stateDir, 'supervisor.sock');
  // A tmp cleaner or an operator removed the socket's name; the first supervisor still runs.
  renameSync(socket, `${socket}.moved`);
  t.teardown(() => rmSync(`${socket}.moved`, { force: true }));
  const second = await runCli(['start', '--config', fleet.configFile]);
  t.is(second.code, 1);
  t.regex(second.stderr, new RegExp(`another supervisor \\(pid ${fleet.supervisor.child.pid}\\) is already running with state dir`));
  t.deepEqual(runningPids(fleet, 'alpha'), [pid], 'the running gateway was not touched');
  t.deepEqual(ofType(fleet.events(), 'gateway.leftover'), []);
  renameSync(`${socket}.moved`, socket);
});

test('a broken or re-pointed config still reaches the running supervisor; a broken reload is rejected and logged', async (t) => {
  const fleet = await opsFleet(t, ['alpha']);
  const good = readFileSync(fleet.configFile, 'utf8');

  writeFileSync(fleet.configFile, `${good}restart_typo: true\n`);
  const status = await fleet.cli('status', '--json');
  t.is(status.code, 0, status.stderr);
  t.is(JSON.parse(status.stdout).supervisor.pid, fleet.supervisor.child.pid);
  t.regex(status.stderr, /warning: .*supervisor\.yaml has errors/);
  const reload = await fleet.cli('reload');
  t.is(reload.code, 2);
  t.regex(reload.stderr, /config rejected, fleet untouched: .*restart_typo/);
  t.regex(String(ofType(fleet.events(), 'supervisor.reload_rejected').at(-1)?.error), /restart_typo/);

  const elsewhere = path.join(fleet.root, 'elsewhere.sock');
  writeFileSync(fleet.configFile, `${good}control:\n  socket: ${elsewhere}\n`);
  const repointed = await fleet.cli('status', '--json');
  t.is(repointed.code, 0, repointed.stderr);
  t.is(JSON.parse(repointed.stdout).supervisor.pid, fleet.supervisor.child.pid);
  const second = await fleet.cli('start');
  t.is(second.code, 1);
  t.false(existsSync(elsewhere), 'the refused start never took the new socket');
  t.is(runningPids(fleet, 'alpha').length, 1);
});

test('status reports the supervisor, boards and profiles', async (t) => {
  const fleet = await opsFleet(t, ['alpha', 'beta']);
  const result = await fleet.cli('status', '--json');
  t.is(result.code, 0, result.stderr);
  const status = JSON.parse(result.stdout);
  t.like(status.supervisor, { pid: fleet.supervisor.child.pid, config: fleet.configFile, state_dir: fleet.stateDir });
  t.deepEqual(status.boards.map((board: { slug: string }) => board.slug), ['default']);
  const alpha = status.profiles.find((profile: { name: string }) => profile.name === 'alpha');
  t.like(alpha, { state: 'running', grant: false, grant_reason: 'not configured', restarts: 0 });
  t.is(alpha.pid, runningPids(fleet, 'alpha')[0]);
  const table = await fleet.cli('status');
  t.regex(table.stdout, /│ alpha\s+│ running/);
});

test('restart: a wave that waits, unknown profiles named, --all', async (t) => {
  const fleet = await opsFleet(t, ['alpha', 'beta']);
  const before = runningPids(fleet, 'alpha')[0];
  const restart = await fleet.cli('restart', 'alpha', '--reason', 'deploy');
  t.is(restart.code, 0, restart.stderr);
  t.regex(restart.stdout, /restarted: alpha/);
  t.not(runningPids(fleet, 'alpha')[0], before);
  t.like(ofType(fleet.events(), 'wave.done').at(-1), { reason: 'deploy', restarted: ['alpha'] });

  const unknown = await fleet.cli('restart', 'alpha', 'nope', 'ghost');
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown profiles: nope, ghost/);

  const queued = await fleet.cli('restart', 'beta', '--no-wait');
  t.is(queued.code, 0);
  t.regex(queued.stdout, /queued: beta/);
  await fleet.waitForEvent((events) => ofType(events, 'wave.done').length >= 2);
  const stale = await fleet.cli('restart', '--stale');
  t.is(stale.code, 0, 'nothing stale is nothing to do');
  t.regex(stale.stdout, /restarted: none/);

  const all = await fleet.cli('restart', '--all');
  t.is(all.code, 0);
  t.regex(all.stdout, /restarted: alpha, beta|restarted: beta, alpha/);
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout);
  t.like(status.profiles.find((profile: { name: string }) => profile.name === 'alpha'), { restarts: 2, last_restart_reason: 'wave:manual' });
  t.like(status.profiles.find((profile: { name: string }) => profile.name === 'beta'), { restarts: 2 });
});

test('stop keeps a gateway stopped through waves; start brings it back', async (t) => {
  const fleet = await opsFleet(t, ['alpha', 'beta']);
  t.is((await fleet.cli('stop', 'alpha')).code, 0);
  t.deepEqual(runningPids(fleet, 'alpha'), []);
  const all = await fleet.cli('restart', '--all');
  t.regex(all.stdout, /restarted: beta\b/);
  t.regex(all.stdout, /skipped \(stopped.*\): alpha$/m, 'the operator is told why alpha did not restart');
  t.deepEqual(runningPids(fleet, 'alpha'), [], 'an operator stop survives a wave');
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout);
  t.like(status.profiles.find((profile: { name: string }) => profile.name === 'alpha'), { state: 'stopped', pid: null });
  const start = await fleet.cli('start', 'alpha');
  t.is(start.code, 0, start.stderr);
  t.is(runningPids(fleet, 'alpha').length, 1);
  t.is((await fleet.cli('stop', 'ghost')).code, 2);
});

test('garbage, truncated and oversized messages get error replies and never disturb the supervisor', async (t) => {
  const fleet = await opsFleet(t, ['alpha']);
  const socket = path.join(fleet.stateDir, 'supervisor.sock');
  const exchange = (payload: string | Buffer, end = true) =>
    new Promise<string>((resolve) => {
      const client = net.createConnection(socket);
      let reply = '';
      client.on('data', (chunk) => (reply += chunk.toString()));
      client.on('close', () => resolve(reply));
      client.on('error', () => resolve(reply));
      client.write(payload);
      if (end) client.end();
      // Only a safety net: the server ends every one of these connections itself.
      setTimeout(() => client.destroy(), 20_000);
    });
  const codes = (reply: string) => reply.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line).error?.code ?? 'ok');
  t.deepEqual(codes(await exchange('this is not json\n')), ['bad_json']);
  t.deepEqual(codes(await exchange('[1,2]\n')), ['bad_request']);
  t.deepEqual(codes(await exchange('{"cmd":"format-disk"}\n')), ['unknown_command']);
  t.deepEqual(codes(await exchange('{"cmd":"restart","args":{"profiles":"alpha"}}\n')), ['bad_request']);
  t.deepEqual(codes(await exchange('{"cmd":"status"')), ['truncated']);
  t.deepEqual(codes(await exchange(Buffer.alloc(200_000, 'x'), false)), ['too_large']);
  const status = await fleet.cli('status', '--json');
  t.is(status.code, 0);
  t.is(JSON.parse(status.stdout).supervisor.pid, fleet.supervisor.child.pid);
  t.is(runningPids(fleet, 'alpha').length, 1);
});

test('commands against no supervisor say so clearly', async (t) => {
  const fleet = makeFleetDir(t);
  fleet.config({ gateway: { command: [python] } });
  for (const args of [['status'], ['restart', 'x'], ['reload'], ['check'], ['shutdown'], ['kanban', 'init']]) {
    const result = await runCli([...args, '--config', fleet.configFile]);
    t.is(result.code, 1, args.join(' '));
    t.regex(result.stderr, /no supervisor is running for .*supervisor\.yaml \(socket .*supervisor\.sock\)/);
  }
});

test('reload adds, removes and changes profiles, and rejects a bad config without touching the fleet', async (t) => {
  const fleet = await opsFleet(t, ['keep', 'change', 'drop']);
  const keepPid = runningPids(fleet, 'keep')[0];
  const changePid = runningPids(fleet, 'change')[0];
  fleet.profile('change', { kanban: { enabled: true } });
  fleet.profile('drop', { supervisor: { enabled: false } });
  fleet.profile('fresh', {});
  const reload = await fleet.cli('reload');
  t.is(reload.code, 0, reload.stderr);
  t.is(reload.stdout.trim(), 'added: fresh; removed: drop; restarting: change');
  await fleet.waitForEvent((events) => ofType(events, 'wave.done').length >= 1 && ofType(events, 'gateway.ready').length >= 5);
  t.deepEqual(runningPids(fleet, 'keep'), [keepPid]);
  t.is(runningPids(fleet, 'change').length, 1);
  t.not(runningPids(fleet, 'change')[0], changePid);
  t.deepEqual(runningPids(fleet, 'drop'), []);
  t.is(runningPids(fleet, 'fresh').length, 1);

  // A broken profile config reaches the supervisor (the CLI reads only the supervisor config).
  fleet.profile('keep', { kanban: { enabled: 'yes' } });
  const bad = await fleet.cli('reload');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /config rejected, fleet untouched: .*keep\/config\.yaml.*kanban\.enabled/);
  t.regex(String(ofType(fleet.events(), 'supervisor.reload_rejected').at(-1)?.error), /kanban\.enabled/);
  t.deepEqual(runningPids(fleet, 'keep'), [keepPid], 'fleet untouched');

  fleet.profile('keep', {});
  fleet.profile('fresh', { supervisor: { enabled: false } });
  fleet.supervisor.child.kill('SIGHUP');
  await fleet.waitForEvent((events) => ofType(events, 'supervisor.reload').length >= 2);
  t.deepEqual(runningPids(fleet, 'fresh'), [], 'SIGHUP reloads too');
});

test('a pre_restart hook that exits non-zero vetoes the restart; a hanging hook is killed at its timeout', async (t) => {
  const fleet = makeFleetDir(t);
  const veto = fleet.script('veto.sh', '#!/bin/sh\n[ "$HERMES_SUPERVISOR_PROFILE" = "guarded" ] && { echo "no restarts for guarded, pid $HERMES_SUPERVISOR_PID"; exit 3; }\nexit 0\n');
  const hang = fleet.script('hang.sh', '#!/bin/sh\nsleep 60\n');
  const ops = await opsFleet(t, ['guarded', 'free'], {
    // Long enough for the veto hook to finish on a slow machine; the hanging one is still cut off.
    hooks: { pre_restart: [veto], post_restart: [hang], timeout: '5s' },
  });
  const guarded = runningPids(ops, 'guarded')[0];
  const result = await ops.cli('restart', 'guarded', 'free');
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /vetoed by pre_restart: guarded/);
  t.deepEqual(runningPids(ops, 'guarded'), [guarded]);
  const events = await ops.waitForEvent((all) => ofType(all, 'hook.run').filter((event) => event.hook === 'post_restart').length >= 1);
  t.like(ofType(events, 'wave.veto')[0], { profile: 'guarded' });
  const vetoRun = ofType(events, 'hook.run').find((event) => event.hook === 'pre_restart' && event.profile === 'guarded');
  t.like(vetoRun, { code: 3 });
  t.is(String(vetoRun!.stdout).trim(), `no restarts for guarded, pid ${guarded}`, 'the hook is told which process it would restart');
  t.like(ofType(events, 'hook.run').find((event) => event.hook === 'post_restart'), { profile: 'free', timed_out: true });
  t.true(ops.supervisor.child.exitCode === null, 'the supervisor is unharmed');
});

test('after SIGKILL of the supervisor, a new start leaves exactly one gateway per profile', async (t) => {
  const fleet = await opsFleet(t, ['alpha', 'beta', 'gamma']);
  const old = ['alpha', 'beta', 'gamma'].map((profile) => runningPids(fleet, profile)[0]);
  await killOnceUp(fleet.supervisor, ['alpha', 'beta', 'gamma']);
  t.deepEqual(['alpha', 'beta', 'gamma'].map((profile) => runningPids(fleet, profile)[0]), old, `orphans still run; ${endings(fleet.root, old)}`);

  const again = supervise(t, fleet.configFile);
  await fleet.waitForEvent((events) => ofType(events, 'supervisor.start').length === 2 && ofType(events, 'gateway.ready').length >= 6);
  for (const profile of ['alpha', 'beta', 'gamma']) {
    const pids = runningPids(fleet, profile);
    t.is(pids.length, 1, `${profile} runs once`);
    t.false(old.includes(pids[0]), `${profile} is a fresh gateway`);
  }
  t.is(ofType(fleet.events(), 'gateway.leftover').length, 3);
  again.child.kill('SIGTERM');
  t.is((await again.exited).code, 0);
  t.deepEqual(pidsWithMarker(fleet.marker), []);
});

test('a gateway no record names (spawned an instant before the kill) is found by its environment mark', async (t) => {
  const fleet = await opsFleet(t, ['alpha', 'beta']);
  const old = ['alpha', 'beta'].map((profile) => runningPids(fleet, profile)[0]);
  await killOnceUp(fleet.supervisor, ['alpha', 'beta']);
  const afterKill = endings(fleet.root, old);
  rmSync(path.join(fleet.stateDir, 'gateways.json'), { force: true });
  const again = supervise(t, fleet.configFile);
  await fleet.waitForEvent((events) => ofType(events, 'supervisor.start').length === 2 && ofType(events, 'gateway.ready').length >= 4);
  for (const profile of ['alpha', 'beta']) {
    const pids = runningPids(fleet, profile);
    t.is(pids.length, 1, `${profile} runs once`);
    t.false(old.includes(pids[0]), `${profile} is a fresh gateway`);
  }
  const leftovers = ofType(fleet.events(), 'gateway.leftover');
  t.is(leftovers.length, 2, `just after the kill: ${afterKill}\nnow: ${endings(fleet.root, old)}`);
  t.true(leftovers.every((event) => /no record/.test(String(event.reason))));
  again.child.kill('SIGTERM');
  t.is((await again.exited).code, 0);
  t.deepEqual(pidsWithMarker(fleet.marker), []);
});

test('logs and events read the state dir', async (t) => {
  const fleet = await opsFleet(t, ['alpha']);
  await fleet.supervisor.waitFor('alpha | up');
  const logs = await fleet.cli('logs', 'alpha', '-n', '5');
  t.is(logs.code, 0);
  t.regex(logs.stdout, new RegExp(`up ${fleet.marker}-alpha`));
  t.is((await fleet.cli('logs', '../etc')).code, 2);
  const events = await fleet.cli('events', '--json', '-n', '100');
  const types = events.stdout.trim().split('\n').map((line) => JSON.parse(line).type);
  t.true(types.includes('supervisor.start') && types.includes('gateway.ready'));
  t.regex((await fleet.cli('events')).stdout, /gateway\.spawn profile=alpha pid=\d+/);
});

test('shutdown stops every gateway and the supervisor', async (t) => {
  const fleet = await opsFleet(t, ['alpha', 'beta']);
  const result = await fleet.cli('shutdown');
  t.is(result.code, 0);
  t.regex(result.stdout, new RegExp(`supervisor ${fleet.supervisor.child.pid} has stopped`));
  // shutdown waits for the exit: nothing is left the moment it returns, and a new start can follow at once.
  t.deepEqual(pidsWithMarker(fleet.marker), []);
  t.false(existsSync(path.join(fleet.stateDir, 'supervisor.sock')));
  t.like(ofType(fleet.events(), 'supervisor.stop').at(-1), { reason: 'shutdown command' });
  t.is((await fleet.supervisor.exited).code, 0);

  const again = supervise(t, fleet.configFile);
  await again.waitFor('gateway.ready profile=beta');
  const noWait = await fleet.cli('shutdown', '--no-wait');
  t.is(noWait.code, 0);
  t.regex(noWait.stdout, new RegExp(`supervisor ${again.child.pid} is stopping`));
  t.is((await again.exited).code, 0);
});
