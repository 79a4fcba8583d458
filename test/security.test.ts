import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { processStartTime } from '../src/board/proc.js';
import { request, startControlServer, type ControlServer } from '../src/control/index.js';
import { lockStateDir } from '../src/statedir/index.js';
import { EventLog } from '../src/events/index.js';
import { recordGateway } from '../src/recovery/index.js';
import { runCli } from './helpers/cli.js';
import { readEventFile } from './helpers/events.js';
import { python } from './helpers/fixture.js';
import { supervise } from './helpers/fleet.js';
import { makeFleetDir, type FleetDir } from './helpers/fleetDir.js';
import { cliPath } from './helpers/paths.js';
import { killAll, ownProcesses, pidsWithMarker } from './helpers/proc.js';
import { until } from './helpers/wait.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** Scenarios that need a second user run as root (files handed to nobody); elsewhere they say why they did not. */
function needsRoot(t: ExecutionContext): boolean {
  if (isRoot) return true;
  t.log('skipped: needs root to create files owned by another user (nobody)');
  t.pass();
  return false;
}

/** A folder anyone may create entries in, like /tmp: where another local user plants links. */
function sharedFolder(fleet: FleetDir): string {
  const shared = path.join(fleet.root, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o1777);
  return shared;
}

const gateway = { command: [python, '-c', 'import time; time.sleep(600)', '{profile}'] };

// --- 1. the state dir and the control socket -------------------------------------------------

test('a state dir that is a symlink planted by another user is a config error naming it and its owner', async (t) => {
  if (!needsRoot(t)) return;
  const fleet = makeFleetDir(t, 'hs-sec-');
  const target = path.join(fleet.root, 'root-owned');
  fs.mkdirSync(target, { mode: 0o700 });
  const link = path.join(sharedFolder(fleet), 'state');
  fs.symlinkSync(target, link);
  fs.lchownSync(link, NOBODY, NOBODY);
  fleet.config({ gateway, state_dir: link });
  const expected = `state_dir: state dir ${link} is not trusted: symlink ${link} is owned by uid ${NOBODY}; expected root (uid 0)`;
  for (const command of ['validate', 'start']) {
    const result = await runCli([command, '--config', fleet.configFile]);
    t.is(result.code, 2, `${command}: ${result.stderr}`);
    t.true(result.stderr.includes(expected), `${command}: ${result.stderr}`);
  }
  t.deepEqual(fs.readdirSync(target), [], 'nothing was written through the link');
});

test('a control socket in a folder anyone can write is refused before a squatter can answer for it', async (t) => {
  const fleet = makeFleetDir(t, 'hs-sec-');
  const socket = path.join(sharedFolder(fleet), 'supervisor.sock');
  fleet.config({ gateway, control: { socket } });
  const result = await runCli(['start', '--config', fleet.configFile]);
  t.is(result.code, 2, result.stderr);
  t.true(
    result.stderr.includes(`control.socket: control socket folder ${path.dirname(socket)} is not trusted: directory ${path.dirname(socket)} is writable by group or others (mode 1777); expected chmod go-w`),
    result.stderr,
  );
});

test('the CLI never talks to a control socket another user put in place', async (t) => {
  if (!needsRoot(t)) return;
  const fleet = makeFleetDir(t, 'hs-sec-');
  const socket = path.join(sharedFolder(fleet), 'supervisor.sock');
  let asked = false;
  const squatter = await startControlServer({ socketPath: socket, commands: { status: async () => (asked = true) } });
  t.teardown(() => squatter.close());
  fs.lchownSync(socket, NOBODY, NOBODY);
  fleet.config({ gateway, control: { socket } });
  const result = await runCli(['status', '--config', fleet.configFile]);
  t.is(result.code, 1, result.stderr);
  t.true(result.stderr.includes(`control socket ${socket} is not trusted: socket ${socket} is owned by uid ${NOBODY}; expected root (uid 0); not sending it status`), result.stderr);
  t.false(asked);
});

test('the event log never follows a symlink put in place of events.jsonl', (t) => {
  const fleet = makeFleetDir(t, 'hs-sec-');
  fs.mkdirSync(fleet.stateDir, { mode: 0o700 });
  const elsewhere = path.join(fleet.root, 'elsewhere.jsonl');
  fs.writeFileSync(elsewhere, '');
  fs.symlinkSync(elsewhere, path.join(fleet.stateDir, 'events.jsonl'));
  new EventLog(fleet.stateDir).emit('supervisor.start', { pid: 1 });
  t.is(fs.readFileSync(elsewhere, 'utf8'), '');
});

// --- 2. profiles ----------------------------------------------------------------------------------

test('a profile folder that leads to another user’s folder is not run: its command never runs as root', async (t) => {
  if (!needsRoot(t)) return;
  const fleet = makeFleetDir(t, 'hs-sec-');
  const theirs = path.join(fleet.root, 'theirs');
  const marker = path.join(fleet.root, 'ran-as');
  fs.mkdirSync(theirs);
  fs.writeFileSync(path.join(theirs, 'config.yaml'), JSON.stringify({ supervisor: { command: ['/bin/sh', '-c', `id > ${marker}`] } }));
  execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, theirs]);
  fs.symlinkSync(theirs, path.join(fleet.hermesHome, 'profiles', 'evil'));
  fleet.config({ gateway });
  const expected = `profile folder ${path.join(fleet.hermesHome, 'profiles', 'evil')} is not trusted: directory ${theirs} is owned by uid ${NOBODY}; expected root (uid 0); profile "evil" is not run`;
  const validate = await runCli(['validate', '--config', fleet.configFile]);
  t.is(validate.code, 2, validate.stderr);
  t.true(validate.stderr.includes(expected), validate.stderr);
  const start = await runCli(['start', '--config', fleet.configFile]);
  t.is(start.code, 2, start.stderr);
  t.false(fs.existsSync(marker), 'the profile’s command never ran');
});

test('a profile config.yaml anyone may write is refused, naming its mode', async (t) => {
  const fleet = makeFleetDir(t, 'hs-sec-');
  const file = fleet.profile('alpha', {});
  fs.chmodSync(file, 0o666);
  fleet.config({ gateway });
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 2, result.stderr);
  t.true(result.stderr.includes(`profile config ${file} is not trusted: file ${file} is writable by group or others (mode 0666); expected chmod go-w; profile "alpha" is not run`), result.stderr);
});

// --- 3. a stalled stdout ------------------------------------------------------------------------

test('with its stdout stalled the supervisor drops and counts gateway lines; the log files keep them', async (t) => {
  const fleet = makeFleetDir(t, 'hs-sec-');
  const marker = `flood-${path.basename(fleet.root)}`;
  // About 1 MB/s per gateway: 100 lines of 100 bytes every 10 ms.
  const flood = fleet.script('flood.py', 'import sys, time\nline = "x" * 99 + "\\n"\nwhile True:\n    sys.stdout.write(line * 100)\n    sys.stdout.flush()\n    time.sleep(0.01)\n');
  fleet.config({ gateway: { command: [python, flood, `${marker}-{profile}`] }, restart: { ready_after: '200ms', stop_timeout: '2s' }, logs: { max_size: '1G' } });
  fleet.profile('alpha', {});
  fleet.profile('beta', {});
  const child = spawn(process.execPath, [cliPath, 'start', '--config', fleet.configFile], { stdio: ['ignore', 'pipe', 'ignore'] });
  // Nobody reads the supervisor's stdout: the pipe fills and stays full.
  child.stdout.pause();
  t.teardown(() => {
    child.kill('SIGKILL');
    killAll(pidsWithMarker(marker));
  });
  const dropped = async () => {
    const status = await runCli(['status', '--json', '--config', fleet.configFile]);
    if (status.code !== 0) return undefined;
    const profiles = (JSON.parse(status.stdout) as { profiles: Array<{ name: string; output_dropped: number }> }).profiles;
    return profiles.every((profile) => profile.output_dropped > 0) ? new Map(profiles.map((profile) => [profile.name, profile.output_dropped])) : undefined;
  };
  const first = await until('dropped lines in status', dropped);
  const later = await until('more dropped lines', async () => {
    const now = await dropped();
    return now !== undefined && now.get('alpha')! > first.get('alpha')! ? now : undefined;
  });
  t.true(later.get('alpha')! > first.get('alpha')!);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
  t.true(rssKb < 400 * 1024, `supervisor RSS ${rssKb} kB`);
  // Every dropped line of 100 bytes is in the log file all the same.
  const logged = fs.statSync(path.join(fleet.stateDir, 'logs', 'alpha.log')).size;
  t.true(logged >= 100 * first.get('alpha')!, `alpha.log has ${logged} bytes for ${first.get('alpha')} dropped lines`);
});

// --- 4. slow clients on the control socket -----------------------------------------------------

async function controlServer(t: ExecutionContext, options: { requestDeadlineMs?: number; idleTimeoutMs?: number } = {}): Promise<ControlServer> {
  const fleet = makeFleetDir(t, 'hs-sec-');
  const server = await startControlServer({ socketPath: path.join(fleet.root, 'c.sock'), commands: {}, ...options });
  t.teardown(() => server.close());
  return server;
}

function connect(t: ExecutionContext, socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath, () => resolve(socket));
    socket.on('error', reject);
    t.teardown(() => socket.destroy());
  });
}

test('the CLI gets its reply while 64 slow clients hold every connection slot', async (t) => {
  // A deadline longer than the test: only giving way to a client that asks at once can let it in.
  const server = await controlServer(t, { requestDeadlineMs: 600_000, idleTimeoutMs: 600_000 });
  const slow = await Promise.all(Array.from({ length: 64 }, () => connect(t, server.socketPath)));
  for (const socket of slow) socket.write(' ');
  const answer = (await request(server.socketPath, 'ping')) as { pid: number };
  t.is(answer.pid, process.pid);
});

test('a request trickling in a byte at a time is cut at the deadline', async (t) => {
  const server = await controlServer(t, { requestDeadlineMs: 300, idleTimeoutMs: 600_000 });
  const socket = await connect(t, server.socketPath);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const trickle = setInterval(() => socket.writable && socket.write(' '), 20);
  t.teardown(() => clearInterval(trickle));
  await closed;
  t.like(JSON.parse(received.split('\n')[0]!), { ok: false, error: { code: 'request_timeout' } });
});

// --- 5. secrets ---------------------------------------------------------------------------------

test('validate --json and text never print secrets, by name or by shape', async (t) => {
  const fleet = makeFleetDir(t, 'hs-sec-');
  const secrets = {
    DATABASE_URL: 'postgres://admin:PGPASS-2222@db.internal/app',
    SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/SLACKSECRET',
    SENTRY_DSN: 'https://SENTRYKEY0123@o1.ingest.sentry.io/2',
    GITHUB_PAT: 'ghp_GHSECRET0123456789abcdefghij',
    HERMES_API_BEARER: 'BEARERSECRET',
    DOCS: 'https://user:URLPASS@example.com/x',
  };
  fleet.config({ gateway: { ...gateway, env: secrets } });
  fleet.profile('alpha', {});
  for (const args of [['--json'], []]) {
    const result = await runCli(['validate', ...args, '--config', fleet.configFile]);
    t.is(result.code, 0, result.stderr);
    for (const secret of ['PGPASS-2222', 'SLACKSECRET', 'SENTRYKEY0123', 'GHSECRET', 'BEARERSECRET', 'URLPASS']) {
      t.false(result.stdout.includes(secret), `${secret} printed by validate ${args.join(' ')}`);
    }
  }
});

test('a mistyped value is described, not echoed, in the config error and in the event', async (t) => {
  const fleet = makeFleetDir(t, 'hs-sec-');
  fleet.config({ gateway, restart: { stop_timeout: 'sk-DURATIONSECRET' } });
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 2);
  t.true(result.stderr.includes('restart.stop_timeout: expected a duration like "250ms", "10s" or "5m", got a string of 17 characters'), result.stderr);
  t.false(result.stderr.includes('DURATIONSECRET'));
  const log = new EventLog(fleet.stateDir);
  log.emit('supervisor.reload_rejected', { error: 'got "sk-DURATIONSECRET" from https://u:PW@h' });
  t.false(fs.readFileSync(log.file, 'utf8').includes('DURATIONSECRET'));
  t.false(fs.readFileSync(log.file, 'utf8').includes(':PW@'));
});

// --- 6. a full state dir --------------------------------------------------------------------------

/** A 64 KiB tmpfs, unmounted after the test. */
function smallDisk(t: ExecutionContext, fleet: FleetDir): string {
  const mount = path.join(fleet.root, 'disk');
  fs.mkdirSync(mount);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', mount]);
  t.teardown(() => execFileSync('umount', ['-l', mount]));
  return mount;
}

function fill(dir: string): void {
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

test('a start on a full state dir reaps the gateways a killed supervisor left, then fails naming the file', async (t) => {
  if (!needsRoot(t)) return;
  const fleet = makeFleetDir(t, 'hs-sec-');
  const stateDir = path.join(smallDisk(t, fleet), 'state');
  fs.mkdirSync(stateDir, { mode: 0o700 });
  fleet.config({ gateway, state_dir: stateDir, restart: { stop_timeout: '2s' } });
  const leftover = spawn('python3', ['-c', 'import time; time.sleep(600)'], { detached: true, stdio: 'ignore' });
  ownProcesses(t)(leftover.pid!, { group: true });
  const startTime = await until('the leftover to start', () => processStartTime(leftover.pid!) ?? undefined);
  recordGateway(stateDir, { profile: 'alpha', pid: leftover.pid!, pgid: leftover.pid!, startTime });
  // The lock file is there from the killed supervisor's run.
  lockStateDir(stateDir).release();
  fill(stateDir);
  const result = await runCli(['start', '--config', fleet.configFile]);
  t.is(result.code, 1, result.stderr);
  await until('the leftover gateway to be stopped', () => leftover.exitCode !== null || leftover.signalCode !== null);
  t.is(leftover.signalCode, 'SIGTERM');
  t.true(result.stderr.includes(`cannot write ${stateDir}/supervisor.json: ENOSPC`), result.stderr);
  // Forgetting the reaped gateway freed its record's space: the event log says what was stopped.
  t.like(readEventFile(path.join(stateDir, 'events.jsonl')).find((event) => event.type === 'gateway.leftover'), { profile: 'alpha', result: 'stopped' });
});

test('a record write that fails on a full disk is reported, naming gateways.json', async (t) => {
  if (!needsRoot(t)) return;
  const fleet = makeFleetDir(t, 'hs-sec-');
  const stateDir = path.join(smallDisk(t, fleet), 'state');
  const marker = `full-${path.basename(fleet.root)}`;
  fleet.config({ gateway: { command: [python, '-c', 'import time; time.sleep(600)', `${marker}-{profile}`] }, state_dir: stateDir, restart: { stop_timeout: '2s', ready_after: '200ms' } });
  fleet.profile('alpha', {});
  // With beta still recorded, forgetting alpha must rewrite gateways.json rather than remove it.
  fleet.profile('beta', {});
  // The gateways' command lines name the marker, not the fleet folder the supervisor's teardown looks for.
  t.teardown(() => killAll(pidsWithMarker(marker)));
  const supervisor = supervise(t, fleet.configFile);
  await supervisor.waitFor('gateway.ready profile=alpha');
  await supervisor.waitFor('gateway.ready profile=beta');
  fill(stateDir);
  const restart = await runCli(['restart', 'alpha', '--config', fleet.configFile]);
  t.is(restart.code, 0, restart.stderr);
  // The event log is on the same full disk: the supervisor's own output carries the event all the same.
  // The console shortens the path in `file`; the error message is shown whole.
  await supervisor.waitFor(new RegExp(`supervisor\\.record_failed file=\\S*gateways\\.json error="cannot write ${stateDir}/gateways\\.json: ENOSPC`));
  t.regex(supervisor.output(), /supervisor \| supervisor\.record_failed file=/);
});

// --- 7. control characters in names ---------------------------------------------------------------

test('a profile folder named with a newline and an escape stays on one warning line, escaped', async (t) => {
  const fleet = makeFleetDir(t, 'hs-sec-');
  fs.mkdirSync(path.join(fleet.hermesHome, 'profiles', 'evil\nwarning: forged\u001b[31m'));
  fleet.config({ gateway });
  const result = await runCli(['validate', '--config', fleet.configFile]);
  t.is(result.code, 0, result.stderr);
  t.false(result.stdout.includes('\u001b'));
  t.false(result.stdout.split('\n').some((line) => line.startsWith('warning: forged')));
  t.true(result.stdout.includes('evil\\nwarning: forged\\x1b[31m: not a valid profile name'), result.stdout);
});
