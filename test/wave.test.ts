import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { WaveRunner, type WaveFleet, type WaveGateway } from '../src/fleet/index.js';
import { tempDir } from './helpers/tempDir.js';
import { until } from './helpers/wait.js';

/** What the runner did, in order: `start:<name>`, `ready:<name>`, `stop:<name>`. */
type Timeline = string[];

/** A gateway stand-in backed by a real process: a restart really stops one process and starts another. */
class ProcessGateway implements WaveGateway {
  readonly holds = new Set<string>();
  private child: ChildProcess | null = null;

  /**
   * With `gate`, a restarted process answers (is ready) only once that file exists: the test decides
   * when each restarted gateway becomes ready.
   */
  constructor(
    private readonly t: ExecutionContext,
    readonly name: string,
    private readonly timeline: Timeline,
    private readonly gate?: string,
  ) {
    this.spawn(undefined);
  }

  get held(): boolean {
    return this.holds.size > 0;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.timeline.push(`stop:${this.name}`);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    this.child = null;
  }

  /** Never ready to drain: a graceful restart of it is a plain one. */
  async drain(): Promise<boolean> {
    return false;
  }

  start(reason: string): void {
    this.timeline.push(`start:${this.name}:${reason}`);
    this.spawn(this.gate);
  }

  /** Ready once the new process has really started (it answers on stdout). */
  async waitReady(): Promise<boolean> {
    const child = this.child;
    if (!child) return false;
    await once(child.stdout!, 'data');
    this.timeline.push(`ready:${this.name}`);
    return true;
  }

  private spawn(gate: string | undefined): void {
    const script = gate === undefined ? 'echo up; exec sleep 600' : 'while [ ! -e "$1" ]; do sleep 0.02; done; echo up; exec sleep 600';
    const child = spawn('sh', ['-c', script, 'sh', ...(gate === undefined ? [] : [gate])], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    this.t.teardown(() => void child.kill('SIGKILL'));
  }
}

/** Stand-ins for `names`; with `gates`, each restarted one is ready only once `open(name)` was called. */
function fleetOf(t: ExecutionContext, names: string[], gates = false) {
  const timeline: Timeline = [];
  const dir = gates ? tempDir(t, 'hs-wave-') : undefined;
  const gateOf = (name: string) => (dir === undefined ? undefined : path.join(dir, name));
  const open = (name: string) => writeFileSync(gateOf(name)!, '');
  const gateways = new Map(names.map((name) => [name, new ProcessGateway(t, name, timeline, gateOf(name))]));
  const fleet: WaveFleet = { get: (name) => gateways.get(name) };
  const events: Array<{ type: string; fields: Record<string, unknown> }> = [];
  const log = { emit: (type: string, fields: Record<string, unknown> = {}) => events.push({ type, fields }) };
  return { timeline, gateways, fleet, events, log, open };
}

test('a wave restarts max_parallel gateways at a time, each batch ready before the next begins', async (t) => {
  const { timeline, fleet, log } = fleetOf(t, ['a', 'b', 'c']);
  const waves = new WaveRunner(fleet, log, { maxParallel: 1, fencedParallel: 32, debounceMs: 0 });
  const result = await waves.request({ profiles: ['a', 'b', 'c'], reason: 'test', immediate: true });
  t.deepEqual(result.restarted.sort(), ['a', 'b', 'c']);
  const order = (entry: string) => timeline.indexOf(entry);
  t.true(order('ready:a') < order('stop:b'), timeline.join(' '));
  t.true(order('ready:b') < order('stop:c'), timeline.join(' '));
  t.true(order('stop:a') < order('start:a:wave:test'));
});

test('requests inside the debounce window make one wave; held and removed gateways are skipped', async (t) => {
  const { gateways, fleet, events, log } = fleetOf(t, ['a', 'b', 'held', 'fenced']);
  gateways.get('held')!.holds.add('operator');
  gateways.get('fenced')!.holds.add('operator');
  const waves = new WaveRunner(fleet, log, { maxParallel: 2, fencedParallel: 32, debounceMs: 50 });
  const [first, second] = await Promise.all([
    waves.request({ profiles: ['a', 'held'], reason: 'one' }),
    waves.request({ profiles: ['b', 'fenced', 'gone'], reason: 'two', mandatory: ['fenced'] }),
  ]);
  t.is(first, second);
  t.is(events.filter((event) => event.type === 'wave.start').length, 1);
  t.deepEqual(first.restarted.sort(), ['a', 'b']);
  // A held gateway fenced off a board is stopped all the same, and stays stopped: its hold wins.
  t.deepEqual(first.skipped.sort(), ['fenced', 'gone', 'held']);
});

test('a pre_restart veto holds for a healthy gateway and is overridden for a fenced one', async (t) => {
  const { fleet, events, log } = fleetOf(t, ['healthy', 'fenced']);
  const waves = new WaveRunner(fleet, log, { maxParallel: 2, fencedParallel: 32, debounceMs: 0, approve: async () => false });
  const result = await waves.request({ profiles: ['healthy', 'fenced'], reason: 'swap', mandatory: ['fenced'], immediate: true });
  t.deepEqual(result.vetoed, ['healthy']);
  t.deepEqual(result.restarted, ['fenced']);
  t.true(events.some((event) => event.type === 'wave.veto_ignored' && event.fields.profile === 'fenced'));
});

const starts = (timeline: Timeline) => timeline.filter((entry) => entry.startsWith('start:'));
const firstReady = (timeline: Timeline) => timeline.findIndex((entry) => entry.startsWith('ready:'));

test('fenced gateways all start at once, none waiting for another to be ready, and without the debounce', async (t) => {
  const names = ['a', 'b', 'c', 'd'];
  const { timeline, fleet, events, log, open } = fleetOf(t, names, true);
  // A debounce no test waits out: a wave of fenced gateways must begin without it.
  const waves = new WaveRunner(fleet, log, { maxParallel: 1, fencedParallel: 32, debounceMs: 600_000 });
  const result = waves.request({ profiles: names, reason: 'swap', board: 'default', mandatory: names });
  // No gate is open yet, so none of them can be ready: every start happened before any readiness.
  await until('every fenced gateway to start', () => starts(timeline).length === names.length, 30_000);
  t.is(firstReady(timeline), -1, timeline.join(' '));
  for (const name of names) open(name);
  t.deepEqual((await result).restarted.sort(), names);
  t.like(events.find((event) => event.type === 'wave.start')?.fields, { max_parallel: 1, fenced_parallel: 32, fenced: names });
  t.deepEqual(events.find((event) => event.type === 'wave.done')?.fields.fenced, names);
});

test('fenced_parallel bounds the fenced gateways starting at once; healthy ones still go max_parallel at a time, after them', async (t) => {
  const { timeline, fleet, log, open } = fleetOf(t, ['f1', 'f2', 'f3', 'h1', 'h2'], true);
  const waves = new WaveRunner(fleet, log, { maxParallel: 1, fencedParallel: 2, debounceMs: 0 });
  const result = waves.request({ profiles: ['f1', 'f2', 'f3', 'h1', 'h2'], reason: 'swap', mandatory: ['f1', 'f2', 'f3'], immediate: true });
  await until('two fenced gateways to start', () => starts(timeline).length === 2, 30_000);
  // The two start together: which of them is first in the timeline is up to the processes.
  t.deepEqual(starts(timeline).map((entry) => entry.split(':')[1]).sort(), ['f1', 'f2']);
  // f3 starts only once one of the two is ready: the gate of f1 opens, f2's stays shut.
  open('f1');
  await until('the third fenced gateway to start', () => starts(timeline).length === 3, 30_000);
  t.true(timeline.indexOf('ready:f1') < timeline.indexOf('start:f3:wave:swap'), timeline.join(' '));
  t.false(timeline.some((entry) => entry.startsWith('stop:h')), `healthy gateways wait for the fenced ones: ${timeline.join(' ')}`);
  for (const name of ['f2', 'f3', 'h1', 'h2']) open(name);
  t.deepEqual((await result).restarted.sort(), ['f1', 'f2', 'f3', 'h1', 'h2']);
  const order = (entry: string) => timeline.indexOf(entry);
  for (const fenced of ['ready:f2', 'ready:f3']) t.true(order(fenced) < order('stop:h1'), timeline.join(' '));
  t.true(order('ready:h1') < order('stop:h2'), `healthy ones one at a time: ${timeline.join(' ')}`);
});
