import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { processStartTime, readProcStat } from '../src/board/proc.js';
import { EventLog } from '../src/events/index.js';
import { liveGroupMembers } from '../src/proc/index.js';
import {
  findLeftovers,
  forgetGateway,
  gatewaysFile,
  readGateways,
  readGroups,
  reapLeftovers,
  recordGateway,
  recordGroup,
} from '../src/recovery/index.js';
import { notifyReady, notifyStatus, notifyStopping } from '../src/systemd/index.js';
import { runCli, type RunningSupervisor } from './helpers/cli.js';
import { readEventFile } from './helpers/events.js';
import { python } from './helpers/fixture.js';
import { supervise } from './helpers/fleet.js';
import { makeFleetDir, type FleetDir } from './helpers/fleetDir.js';
import { ownProcesses } from './helpers/proc.js';
import { tempDir } from './helpers/tempDir.js';
import { poll, until } from './helpers/wait.js';

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
  const pid = ownProcesses(t)(leader.pid!, { group: true });
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

for (const [mode, frozen, expected] of [
  ['plain', false, 'stopped'],
  ['handler', false, 'stopped'],
  ['ignore-term', false, 'killed'],
  ['handler', true, 'killed'],
] as const) {
  test(`a verified leftover (${mode}${frozen ? ', frozen' : ''}) is found and its whole group reaped: ${expected}`, async (t) => {
    const stateDir = tempDir(t, 'hermes-recovery-');
    const events = new EventLog(stateDir);
    const gateway = await startLeftover(t, mode);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => gateway.leader.once('exit', (_, signal) => resolve(signal)));
    // Frozen by a fence of the supervisor that died: its board was replaced, so it must never run
    // again (its SIGTERM handler would finish a transaction into the old file): killed, not resumed.
    if (frozen) process.kill(-gateway.pid, 'SIGSTOP');
    recordGateway(stateDir, { profile: 'ops', pid: gateway.pid, pgid: gateway.pid, startTime: gateway.startTime });
    t.true(running(gateway.grandchild, gateway.pid), 'the grandchild runs in the leftover group');

    t.deepEqual(findLeftovers(stateDir), [{ profile: 'ops', pid: gateway.pid, pgid: gateway.pid, startTime: gateway.startTime }]);
    const reaped = await reapLeftovers(stateDir, { stopTimeoutMs: 800, events });

    t.deepEqual(reaped, [{ profile: 'ops', pid: gateway.pid, result: expected }]);
    t.deepEqual(liveGroupMembers(gateway.pid), [], 'nothing of the group runs, grandchild included');
    t.deepEqual(readGateways(stateDir), []);
    t.false(fs.existsSync(gatewaysFile(stateDir)));
    t.like(readEventFile(events.file)[0], { type: 'gateway.leftover', profile: 'ops', pid: gateway.pid, pgid: gateway.pid, result: expected });
    t.is(await exited, expected === 'killed' ? 'SIGKILL' : mode === 'plain' ? 'SIGTERM' : null, 'how the leader ended');
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
  t.like(readEventFile(events.file)[0], { type: 'gateway.leftover', result: 'gone', reason: 'pid reused' });
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
  t.true(readEventFile(events.file).every((event) => event.reason === 'exited'));
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
  await poll(predicate, Boolean);
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

test('gateway records keep the old file format readable; hooks and inits are recorded beside them', (t) => {
  const stateDir = tempDir(t, 'hermes-recovery-');
  recordGateway(stateDir, { profile: 'ops', pid: 100, pgid: 100, startTime: 5 });
  recordGroup(stateDir, { kind: 'hook', name: 'on_swap', pid: 200, pgid: 200, startTime: 6 });
  recordGroup(stateDir, { kind: 'init', name: 'default', pid: 300, pgid: 300, startTime: 7 });
  const stored = JSON.parse(fs.readFileSync(gatewaysFile(stateDir), 'utf8'));
  t.deepEqual(Object.keys(stored.gateways), ['ops']);
  t.like(stored.gateways.ops, { pid: 100, pgid: 100, start_time: 5 });
  t.deepEqual(readGateways(stateDir), [{ profile: 'ops', pid: 100, pgid: 100, startTime: 5 }]);
  t.deepEqual(readGroups(stateDir), [
    { kind: 'gateway', name: 'ops', pid: 100, pgid: 100, startTime: 5 },
    { kind: 'hook', name: 'on_swap', pid: 200, pgid: 200, startTime: 6 },
    { kind: 'init', name: 'default', pid: 300, pgid: 300, startTime: 7 },
  ]);
});

const isRunning = (pid: number): boolean => {
  const state = readProcStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
};

/**
 * A hook or init that logs its pid and which pids logged before it still run, then, the first time
 * only, stays while the hold file exists: the second run of the same command logs and exits.
 */
const ORPHAN = `
import os, sys, time
log, hold = sys.argv[1], sys.argv[2]
def running(pid):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"
earlier = [int(line.split()[0]) for line in open(log)] if os.path.exists(log) else []
alive = [str(pid) for pid in earlier if running(pid)]
with open(log, "a") as out:
    out.write(f"{os.getpid()} {','.join(alive) or '-'}\\n")
while not earlier and os.path.exists(hold):
    time.sleep(0.05)
`;

interface Lines {
  pid: number;
  aliveBefore: string;
}

function logLines(file: string): Lines[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ pid: Number(line.split(' ')[0]), aliveBefore: line.split(' ')[1]! }));
}

const indexOf = (events: Array<Record<string, unknown>>, predicate: (event: Record<string, unknown>) => boolean, from = 0) =>
  events.findIndex((event, index) => index >= from && predicate(event));

/** SIGKILLs the supervisor and checks that what it started survives it, as the case being tested. */
async function killSupervisor(t: ExecutionContext, supervisor: RunningSupervisor, orphan: number): Promise<void> {
  supervisor.child.kill('SIGKILL');
  await supervisor.exited;
  t.true(isRunning(orphan), 'the process outlives the supervisor that started it');
}

/** A fleet folder and the ORPHAN command logging to `name`.log, held on its first run. */
function orphanFleet(t: ExecutionContext, name: string): { fleet: FleetDir; log: string; command: string[] } {
  const fleet = makeFleetDir(t, 'hs-orphan-');
  const log = path.join(fleet.root, `${name}.log`);
  const hold = path.join(fleet.root, 'hold');
  fs.writeFileSync(hold, '');
  return { fleet, log, command: [python, fleet.script('orphan.py', ORPHAN), log, hold] };
}

test('a hook running when the supervisor is SIGKILLed is stopped by the next start before anything starts', async (t) => {
  const { fleet, log, command } = orphanFleet(t, 'hook');
  const crash = fleet.script('crash.py', 'import sys\nsys.exit(3)\n');
  fleet.config({
    gateway: { command: [python, crash] },
    restart: { ready_after: '5s', give_up: { crashes: 1, within: '1m' } },
    hooks: { on_give_up: command, timeout: '10m' },
  });
  fleet.profile('crashy', {});
  const first = supervise(t, fleet.configFile);
  const old = await until('the first hook', () => logLines(log)[0]?.pid);
  // The record is written once the spawn is reported, which may come after the hook's first line.
  const recordedHooks = () => readGroups(fleet.stateDir).filter((record) => record.kind === 'hook').map((record) => record.pid);
  t.deepEqual(await poll(recordedHooks, (pids) => pids.length > 0), [old], 'the running hook is recorded');
  await killSupervisor(t, first, old);

  supervise(t, fleet.configFile);
  const second = await until('the second hook', () => logLines(log)[1]);
  t.is(second.aliveBefore, '-', 'the earlier hook was gone when the new one started');
  t.false(isRunning(old));
  const events = fleet.events();
  const restart = indexOf(events, (event) => event.type === 'supervisor.start', 1);
  const leftover = indexOf(events, (event) => event.type === 'hook.leftover' && event.pid === old, restart);
  t.true(leftover > restart, 'the next start reports the leftover hook');
  t.like(events[leftover], { name: 'on_give_up', result: 'stopped' });
  t.true(leftover < indexOf(events, (event) => event.type === 'gateway.spawn', restart), 'before any gateway is spawned');
  const hookRecords = () => readGroups(fleet.stateDir).filter((record) => record.kind === 'hook');
  await until('the finished hook to leave no record', () => hookRecords().length === 0);
  t.deepEqual(hookRecords(), []);
});

test('an init running when the supervisor is SIGKILLed is found by its marks alone and stopped before the next init', async (t) => {
  const { fleet, log, command } = orphanFleet(t, 'init');
  const idle = fleet.script('idle.py', 'import time\ntime.sleep(600)\n');
  fleet.config({
    gateway: { command: [python, idle] },
    kanban: { init_command: command, init_timeout: '10m' },
    restart: { ready_after: '300ms' },
  });
  fleet.profile('granted', { kanban: { enabled: true } });
  const first = supervise(t, fleet.configFile);
  const old = await until('the first init', () => logLines(log)[0]?.pid);
  await killSupervisor(t, first, old);
  // As if the supervisor died before writing the record: only the marks in the init's environment are left.
  fs.rmSync(gatewaysFile(fleet.stateDir), { force: true });

  const again = supervise(t, fleet.configFile);
  await again.waitFor('gateway.ready profile=granted');
  const [, second] = logLines(log);
  t.like(second, { aliveBefore: '-' }, 'the earlier init was gone when the new one started');
  t.false(isRunning(old));
  const events = fleet.events();
  const restart = indexOf(events, (event) => event.type === 'supervisor.start', 1);
  const leftover = indexOf(events, (event) => event.type === 'init.leftover' && event.pid === old, restart);
  t.true(leftover > restart);
  t.regex(String(events[leftover]!.reason), /no record/);
  t.true(leftover < indexOf(events, (event) => event.type === 'board.init', restart), 'before the next init ran');
});

/**
 * A gateway that starts, like Hermes's dispatcher, a kanban worker in a session of its own carrying
 * HERMES_KANBAN_TASK, and a stray process in a session of its own without it.
 */
const WORKER_GATEWAY = `
import os, subprocess, sys, time
sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
worker = subprocess.Popen(sleeper, start_new_session=True, env={**os.environ, "HERMES_KANBAN_TASK": "t_1"})
stray = subprocess.Popen(sleeper, start_new_session=True)
with open(sys.argv[1], "a") as out:
    out.write(f"{os.getpid()} {worker.pid} {stray.pid}\\n")
print("up", flush=True)
time.sleep(600)
`;

test('a kanban worker outlives its gateway: neither the recovery after a SIGKILL nor a stop kills it', async (t) => {
  const fleet = makeFleetDir(t, 'hs-worker-');
  const log = path.join(fleet.root, 'gateways.log');
  const gateway = fleet.script('gateway.py', WORKER_GATEWAY);
  fleet.config({ gateway: { command: [python, gateway, log] }, restart: { ready_after: '300ms', stop_timeout: '5s' } });
  fleet.profile('dispatcher', { kanban: { enabled: true } });
  const spawned = () =>
    fs.existsSync(log)
      ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ').map(Number) as [number, number, number])
      : [];
  // Workers and strays run outside the fleet folder's command lines: the fleet's teardown does not see them.
  const own = ownProcesses(t);
  const ownAll = (pids: [number, number, number]) => (pids.forEach((pid) => own(pid)), pids);
  const first = supervise(t, fleet.configFile);
  const [gateway1, worker1] = await until('the first gateway', () => spawned()[0] && ownAll(spawned()[0]!));
  await killSupervisor(t, first, worker1);

  const second = supervise(t, fleet.configFile);
  const [gateway2, worker2, stray2] = await until('the second gateway', () => spawned()[1] && ownAll(spawned()[1]!));
  t.false(isRunning(gateway1), 'the recovery stopped the old gateway');
  t.true(isRunning(worker1), 'and left its worker running');

  second.child.kill('SIGTERM');
  t.is((await second.exited).code, 0);
  t.false(isRunning(gateway2));
  t.true(isRunning(worker2), 'a stop leaves the worker running');
  t.false(isRunning(stray2), 'a stray process outside the group is still killed with its gateway');
  t.true(isRunning(worker1));
});

test('temp files of a dead supervisor are removed at start, those of a live pid kept', async (t) => {
  const fleet = makeFleetDir(t, 'hs-temps-');
  const idle = fleet.script('idle.py', 'import time\ntime.sleep(600)\n');
  fleet.config({ gateway: { command: [python, idle] }, restart: { ready_after: '300ms' } });
  fleet.profile('alpha', {});
  const exited = spawn('python3', ['-c', 'pass'], { stdio: 'ignore' });
  const dead = exited.pid!;
  await new Promise((resolve) => exited.once('exit', resolve));
  const live = process.pid;
  fs.mkdirSync(fleet.stateDir, { recursive: true });
  const files = (pid: number) => [
    path.join(fleet.stateDir, `gateways.json.${pid}.tmp`),
    path.join(fleet.stateDir, `supervisor.json.${pid}.tmp`),
    path.join(fleet.hermesHome, `.kanban.db.rebuild-${pid}`),
    path.join(fleet.hermesHome, `.kanban.db.rebuild-${pid}-wal`),
  ];
  const folders = (pid: number) => [path.join(fleet.stateDir, `.ctl${pid}-aB3xYz`)];
  for (const file of [...files(dead), ...files(live)]) fs.writeFileSync(file, 'partial');
  for (const folder of [...folders(dead), ...folders(live)]) {
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 's'), '');
  }
  const supervisor = supervise(t, fleet.configFile);
  await supervisor.waitFor('gateway.ready profile=alpha');
  for (const entry of [...files(dead), ...folders(dead)]) t.false(fs.existsSync(entry), `${entry} is removed`);
  for (const entry of [...files(live), ...folders(live)]) t.true(fs.existsSync(entry), `${entry} is kept`);
  const cleanup = fleet.events().find((event) => event.type === 'supervisor.cleanup');
  t.deepEqual([...(cleanup?.removed as string[])].sort(), [...files(dead), ...folders(dead)].sort());
});

test('a start that fails setting up its control socket exits 1', async (t) => {
  const fleet = makeFleetDir(t, 'hs-failed-');
  const idle = fleet.script('idle.py', 'import time\ntime.sleep(600)\n');
  fleet.config({ gateway: { command: [python, idle] }, control: { socket: path.join(fleet.root, 'missing', 'supervisor.sock') } });
  fleet.profile('alpha', {});
  const result = await runCli(['start', '--config', fleet.configFile]);
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /cannot create the control socket/);
  t.deepEqual(fleet.events().filter((event) => event.type === 'gateway.spawn'), []);
});
