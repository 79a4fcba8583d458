import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { WaveQueue } from '../src/fleet/index.js';
import { PLANNED_STOP_MARKER } from '../src/hermes/index.js';
import { ofType, readEventFile } from './helpers/events.js';
import { brisk, startFleet, type Fleet } from './helpers/fleet.js';

// `restart --graceful`: SIGUSR1 to each gateway (Hermes drains, exits 75), started again at once.

const fixtureLog = (fleet: Fleet, profile: string) => readEventFile(path.join(fleet.logsDir, `${profile}.jsonl`));

interface ProfileStatus {
  name: string;
  state: string;
  last_exit: { code: number | null; graceful?: boolean } | null;
}

async function profileStatus(fleet: Fleet, name: string): Promise<ProfileStatus> {
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout) as { profiles: ProfileStatus[] };
  return status.profiles.find((profile) => profile.name === name)!;
}

test('a graceful restart drains by SIGUSR1: exit 75, no planned-stop marker, no crash, back ready from its state file, one batch at a time', async (t) => {
  const fleet = await startFleet(t, {
    // A crash counted would back off for ten minutes: the wave could not come back ready.
    config: brisk({ restart: { backoff: { initial: '10m', max: '10m' } } }),
    profiles: { alpha: { mode: 'idle', args: ['--drain-ms', '300'] }, beta: { mode: 'idle' } },
  });
  const old = ofType(fleet.events(), 'gateway.spawn', 'alpha')[0]!.pid as number;

  const result = await fleet.cli('restart', 'alpha', 'beta', '--graceful', '--reason', 'deploy');
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^restarted gracefully: alpha, beta \(/);

  const events = fleet.events();
  t.like(ofType(events, 'gateway.drain', 'alpha')[0], { pid: old, signal: 'SIGUSR1', reason: 'wave:deploy', graceful: true });
  t.like(ofType(events, 'gateway.exit', 'alpha')[0], { pid: old, code: 75, expected: true, graceful: true });
  const spawn = ofType(events, 'gateway.spawn', 'alpha')[1]!;
  t.like(spawn, { reason: 'wave:deploy', graceful: true });
  t.not(spawn.pid, old);
  t.like(ofType(events, 'gateway.ready', 'alpha')[1], { pid: spawn.pid, from: 'state_file' });
  t.like(ofType(events, 'wave.start')[0], { profiles: ['alpha', 'beta'], max_parallel: 1, graceful: true });
  t.like(ofType(events, 'wave.done')[0], { restarted: ['alpha', 'beta'], failed: [], graceful: true });
  const alphaBack = events.indexOf(ofType(events, 'gateway.ready', 'alpha')[1]!);
  t.true(events.indexOf(ofType(events, 'gateway.drain', 'beta')[0]!) > alphaBack, 'beta drains only once alpha is back ready');
  t.like(ofType(events, 'gateway.exit', 'beta')[0], { code: 75, graceful: true });
  t.deepEqual(ofType(events, 'gateway.backoff'), []);
  t.deepEqual(ofType(events, 'gateway.drain_timeout'), []);

  const drained = fixtureLog(fleet, 'alpha').filter((line) => line.pid === old);
  t.like(drained.find((line) => line.event === 'drain'), { ms: 300 });
  t.like(drained.find((line) => line.event === 'stop'), { signal: 'SIGUSR1', code: 75 });
  t.deepEqual(drained.filter((line) => line.event === 'planned_stop'), [], 'no SIGTERM, so no marker was consulted');
  t.false(existsSync(path.join(fleet.hermesHome, 'profiles', 'alpha', PLANNED_STOP_MARKER)));
  t.like(await profileStatus(fleet, 'alpha'), { state: 'running', last_exit: { code: 75, graceful: true } });
});

test('a gateway that ignores SIGUSR1 is stopped at stop_timeout as a stop is (marker, SIGTERM) and started again', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk({ restart: { stop_timeout: '1s' } }),
    profiles: { alpha: { mode: 'idle', args: ['--ignore-sigusr1'] } },
  });
  const old = ofType(fleet.events(), 'gateway.spawn', 'alpha')[0]!.pid as number;

  const result = await fleet.cli('restart', 'alpha', '--graceful');
  t.is(result.code, 0, result.stderr);

  const events = fleet.events();
  t.like(ofType(events, 'gateway.drain', 'alpha')[0], { pid: old, timeout_ms: 1000 });
  t.like(ofType(events, 'gateway.drain_timeout', 'alpha')[0], { pid: old, timeout_ms: 1000 });
  t.like(ofType(events, 'gateway.exit', 'alpha')[0], { pid: old, code: 0, expected: true });
  const spawn = ofType(events, 'gateway.spawn', 'alpha')[1]!;
  t.like(ofType(events, 'gateway.ready', 'alpha')[1], { pid: spawn.pid });
  t.like(ofType(events, 'wave.done')[0], { restarted: ['alpha'] });
  t.deepEqual(ofType(events, 'gateway.backoff'), []);
  const stopped = fixtureLog(fleet, 'alpha').filter((line) => line.pid === old);
  t.deepEqual(stopped.filter((line) => line.event === 'drain'), [], 'it never drained');
  t.like(stopped.find((line) => line.event === 'planned_stop'), { planned: true, reason: 'matched' });
});

test('a gateway still starting has nothing to drain: a graceful restart of it is a planned stop and a start', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk(),
    // Never `running` within the test: it stays `starting`.
    profiles: { alpha: { mode: 'idle', args: ['--startup-delay-ms', '600000'] } },
    ready: false,
  });
  const spawned = await fleet.waitForEvent((events) => ofType(events, 'gateway.spawn', 'alpha').length === 1);
  const old = ofType(spawned, 'gateway.spawn', 'alpha')[0]!.pid as number;

  t.is((await fleet.cli('restart', 'alpha', '--graceful', '--no-wait')).code, 0);
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.spawn', 'alpha').length === 2);
  t.deepEqual(ofType(events, 'gateway.drain'), []);
  t.like(ofType(events, 'gateway.exit', 'alpha')[0], { pid: old, code: 0, expected: true });
  t.like(ofType(events, 'gateway.spawn', 'alpha')[1], { reason: 'wave:manual' });
  t.false('graceful' in ofType(events, 'gateway.spawn', 'alpha')[1]!);
  t.like(fixtureLog(fleet, 'alpha').find((line) => line.pid === old && line.event === 'planned_stop'), { planned: true });
});

test('a profile is restarted gracefully only if every request waiting for it asked for that', (t) => {
  const queue = new WaveQueue();
  queue.add(['a', 'b'], 'deploy', undefined, true);
  queue.add(['b', 'c'], 'swap', 'default');
  t.deepEqual([...queue.graceful], ['a'], 'a plain request for a waiting profile wins');
  queue.add(['c'], 'deploy', undefined, true);
  t.deepEqual([...queue.graceful], ['a'], 'a graceful request does not soften a plain one already waiting');
  t.deepEqual(queue.nextBatch(10), ['a', 'b', 'c']);
  queue.add(['b'], 'deploy', undefined, true);
  t.deepEqual([...queue.graceful].sort(), ['a', 'b'], 'once restarted, a profile is queued again as asked');
});
