import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { processStartTime } from '../src/board/proc.js';
import { EventLog } from '../src/events/index.js';
import { liveGroupMembers } from '../src/proc/index.js';
import {
  findLeftovers,
  forgetGateway,
  gatewaysFile,
  readGateways,
  reapLeftovers,
  recordGateway,
} from '../src/recovery/index.js';
import { notifyReady, notifyStatus, notifyStopping } from '../src/systemd/index.js';

function tempDir(t: ExecutionContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function readEvents(events: EventLog): Array<Record<string, unknown>> {
  if (!fs.existsSync(events.file)) return [];
  return fs.readFileSync(events.file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * A stand-in for a gateway a crashed supervisor left behind: a group leader (its own session, as the
 * fleet starts gateways) with a child of its own. `ignore-term` makes both ignore SIGTERM; `handler`
 * has the leader exit from a SIGTERM handler, which only runs once the group is continued.
 */
const LEFTOVER = `
import signal, subprocess, sys, time
mode = sys.argv[1]
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif mode == "handler":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
`;

interface Leftover {
  leader: ChildProcess;
  pid: number;
  grandchild: number;
  startTime: number;
}

async function startLeftover(t: ExecutionContext, mode: 'plain' | 'ignore-term' | 'handler'): Promise<Leftover> {
  const leader = spawn('python3', ['-c', LEFTOVER, mode], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = leader.pid!;
  t.teardown(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  const lines = createInterface({ input: leader.stdout! });
  const [first] = await Promise.race([
    new Promise<string[]>((resolve) => lines.once('line', (line) => resolve([line]))),
    sleep(20_000).then(() => [] as string[]),
  ]);
  if (first === undefined) throw new Error('the leftover stand-in did not start');
  lines.close();
  return { leader, pid, grandchild: Number(first), startTime: processStartTime(pid)! };
}

const running = (pid: number, pgid: number) => liveGroupMembers(pgid).includes(pid);

for (const [mode, expected] of [
  ['plain', 'stopped'],
  ['handler', 'stopped'],
  ['ignore-term', 'killed'],
] as const) {
  test(`a verified leftover (${mode}) is found and its whole group reaped: ${expected}`, async (t) => {
    const stateDir = tempDir(t, 'hermes-recovery-');
    const events = new EventLog(stateDir);
    const gateway = await startLeftover(t, mode);
    // A fenced gateway is stopped; reaping must still end it.
    if (mode === 'handler') process.kill(-gateway.pid, 'SIGSTOP');
    recordGateway(stateDir, { profile: 'ops', pid: gateway.pid, pgid: gateway.pid, startTime: gateway.startTime });
    t.true(running(gateway.grandchild, gateway.pid), 'the grandchild runs in the leftover group');

    t.deepEqual(findLeftovers(stateDir), [{ profile: 'ops', pid: gateway.pid, pgid: gateway.pid, startTime: gateway.startTime }]);
    const reaped = await reapLeftovers(stateDir, { stopTimeoutMs: 800, events });

    t.deepEqual(reaped, [{ profile: 'ops', pid: gateway.pid, result: expected }]);
    t.deepEqual(liveGroupMembers(gateway.pid), [], 'nothing of the group runs, grandchild included');
    t.deepEqual(readGateways(stateDir), []);
    t.false(fs.existsSync(gatewaysFile(stateDir)));
    t.like(readEvents(events)[0], { type: 'gateway.leftover', profile: 'ops', pid: gateway.pid, pgid: gateway.pid, result: expected });
  });
}

test('a live pid with another start time is a reused pid: never signalled, record cleared', async (t) => {
  const stateDir = tempDir(t, 'hermes-recovery-');
  const events = new EventLog(stateDir);
  const stranger = await startLeftover(t, 'plain');
  recordGateway(stateDir, { profile: 'ops', pid: stranger.pid, pgid: stranger.pid, startTime: stranger.startTime - 1 });

  t.deepEqual(findLeftovers(stateDir), []);
  const reaped = await reapLeftovers(stateDir, { stopTimeoutMs: 200, events });

  t.deepEqual(reaped, [{ profile: 'ops', pid: stranger.pid, result: 'gone' }]);
  await sleep(300);
  t.true(running(stranger.pid, stranger.pid), 'the unrelated process still runs');
  t.true(running(stranger.grandchild, stranger.pid));
  t.deepEqual(readGateways(stateDir), []);
  t.like(readEvents(events)[0], { type: 'gateway.leftover', result: 'gone', reason: 'pid reused' });
});

test('a record of a process that exited is cleared', async (t) => {
  const stateDir = tempDir(t, 'hermes-recovery-');
  const events = new EventLog(stateDir);
  const done = spawn('python3', ['-c', 'pass'], { stdio: 'ignore' });
  const pid = done.pid!;
  await new Promise((resolve) => done.once('exit', resolve));
  recordGateway(stateDir, { profile: 'ops', pid, pgid: pid, startTime: 12345 });
  recordGateway(stateDir, { profile: 'docs', pid, pgid: pid, startTime: 12345 });

  t.deepEqual(findLeftovers(stateDir), []);
  const reaped = await reapLeftovers(stateDir, { stopTimeoutMs: 200, events });
  t.deepEqual(
    reaped.sort((a, b) => a.profile.localeCompare(b.profile)),
    [
      { profile: 'docs', pid, result: 'gone' },
      { profile: 'ops', pid, result: 'gone' },
    ],
  );
  t.false(fs.existsSync(gatewaysFile(stateDir)));
  t.true(readEvents(events).every((event) => event.reason === 'exited'));
});

test('records are written atomically with mode 0600 and forgotten one profile at a time', (t) => {
  const stateDir = tempDir(t, 'hermes-recovery-');
  recordGateway(stateDir, { profile: 'ops', pid: 100, pgid: 100, startTime: 5 });
  recordGateway(stateDir, { profile: '__proto__', pid: 200, pgid: 200, startTime: 6 });
  recordGateway(stateDir, { profile: 'ops', pid: 101, pgid: 101, startTime: 7 });

  t.is(fs.statSync(gatewaysFile(stateDir)).mode & 0o777, 0o600);
  t.deepEqual(fs.readdirSync(stateDir), ['gateways.json'], 'no temp file is left');
  t.deepEqual(readGateways(stateDir), [
    { profile: 'ops', pid: 101, pgid: 101, startTime: 7 },
    { profile: '__proto__', pid: 200, pgid: 200, startTime: 6 },
  ]);

  forgetGateway(stateDir, 'ops', { pid: 100, startTime: 5 });
  t.is(readGateways(stateDir).length, 2, 'a record of a newer process is kept');
  forgetGateway(stateDir, 'ops');
  t.deepEqual(readGateways(stateDir), [{ profile: '__proto__', pid: 200, pgid: 200, startTime: 6 }]);
  forgetGateway(stateDir, '__proto__');
  t.false(fs.existsSync(gatewaysFile(stateDir)));
});

test('an unreadable records file is no records', (t) => {
  const stateDir = tempDir(t, 'hermes-recovery-');
  fs.writeFileSync(gatewaysFile(stateDir), '{"gateways": {"ops": {"pid": 1');
  t.deepEqual(readGateways(stateDir), []);
  fs.writeFileSync(gatewaysFile(stateDir), JSON.stringify({ gateways: { ops: { pid: -4, pgid: 1, start_time: 1 }, docs: { pid: 9, pgid: 9, start_time: 3 } } }));
  t.deepEqual(readGateways(stateDir), [{ profile: 'docs', pid: 9, pgid: 9, startTime: 3 }]);
});

/**
 * A stand-in for systemd's notify socket: prints each datagram, and closes the fd a BARRIER=1
 * message carries, as systemd does, so systemd-notify's wait for the barrier ends.
 */
const NOTIFY_RECEIVER = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data, ancillary, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(json.dumps(data.decode()), flush=True)
`;

async function startReceiver(t: ExecutionContext): Promise<{ socket: string; datagrams: string[] }> {
  const socket = path.join(tempDir(t, 'hermes-notify-'), 'notify.sock');
  const receiver = spawn('python3', ['-c', NOTIFY_RECEIVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => receiver.kill('SIGKILL'));
  const datagrams: string[] = [];
  const bound = new Promise<void>((resolve) => {
    createInterface({ input: receiver.stdout! }).on('line', (line) => {
      if (line === 'bound') resolve();
      else datagrams.push(JSON.parse(line) as string);
    });
  });
  await Promise.race([bound, sleep(20_000)]);
  return { socket, datagrams };
}

async function waitFor(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !predicate(); i++) await sleep(20);
}

test('notifyReady sends READY=1 to NOTIFY_SOCKET; a status cannot smuggle in another assignment', async (t) => {
  const { socket, datagrams } = await startReceiver(t);
  const env = { ...process.env, NOTIFY_SOCKET: socket };

  t.deepEqual(await notifyReady(env), { sent: true });
  await waitFor(() => datagrams.includes('READY=1'));
  t.true(datagrams.includes('READY=1'), `received: ${JSON.stringify(datagrams)}`);

  t.deepEqual(await notifyStatus('3 gateways\nREADY=1', env), { sent: true });
  t.deepEqual(await notifyStopping(env), { sent: true });
  await waitFor(() => datagrams.includes('STOPPING=1'));
  t.true(datagrams.includes('STATUS=3 gateways READY=1'), `received: ${JSON.stringify(datagrams)}`);
  t.true(datagrams.includes('STOPPING=1'));
  t.is(datagrams.filter((datagram) => datagram.split('\n').includes('READY=1')).length, 1, 'READY=1 was sent once');
});

test('without NOTIFY_SOCKET nothing runs; a missing systemd-notify is an error in the result', async (t) => {
  const bin = tempDir(t, 'hermes-notify-bin-');
  const marker = path.join(bin, 'ran');
  fs.writeFileSync(path.join(bin, 'systemd-notify'), `#!/bin/sh\necho "$@" > "${marker}"\n`, { mode: 0o755 });
  const env = { HOME: os.homedir(), PATH: bin };

  t.deepEqual(await notifyReady(env), { sent: false });
  t.false(fs.existsSync(marker), 'systemd-notify was not run');
  t.deepEqual(await notifyReady({ ...env, NOTIFY_SOCKET: '/nonexistent/notify.sock' }), { sent: true });
  t.is(fs.readFileSync(marker, 'utf8'), 'READY=1\n', 'with NOTIFY_SOCKET the same PATH does run it');

  const empty = tempDir(t, 'hermes-notify-empty-');
  const missing = await notifyReady({ PATH: empty, NOTIFY_SOCKET: '/nonexistent/notify.sock' });
  t.false(missing.sent);
  t.regex(missing.error ?? '', /ENOENT/);
});
