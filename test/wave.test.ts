import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { WaveRunner, type WaveFleet, type WaveGateway } from '../src/fleet/index.js';

/** What the runner did, in order: `start:<name>`, `ready:<name>`, `stop:<name>`. */
type Timeline = string[];

/** A gateway stand-in backed by a real process: a restart really stops one process and starts another. */
class ProcessGateway implements WaveGateway {
  readonly holds = new Set<string>();
  private child: ChildProcess | null = null;

  constructor(
    private readonly t: ExecutionContext,
    readonly name: string,
    private readonly timeline: Timeline,
  ) {
    this.spawn();
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
    this.spawn();
  }

  /** Ready once the new process has really started (it answers on stdout). */
  async waitReady(): Promise<boolean> {
    const child = this.child;
    if (!child) return false;
    await once(child.stdout!, 'data');
    this.timeline.push(`ready:${this.name}`);
    return true;
  }

  private spawn(): void {
    const child = spawn('sh', ['-c', 'echo up; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    this.t.teardown(() => void child.kill('SIGKILL'));
  }
}

function fleetOf(t: ExecutionContext, names: string[]) {
  const timeline: Timeline = [];
  const gateways = new Map(names.map((name) => [name, new ProcessGateway(t, name, timeline)]));
  const fleet: WaveFleet = { get: (name) => gateways.get(name) };
  const events: Array<{ type: string; fields: Record<string, unknown> }> = [];
  const log = { emit: (type: string, fields: Record<string, unknown> = {}) => events.push({ type, fields }) };
  return { timeline, gateways, fleet, events, log };
}

test('a wave restarts max_parallel gateways at a time, each batch ready before the next begins', async (t) => {
  const { timeline, fleet, log } = fleetOf(t, ['a', 'b', 'c']);
  const waves = new WaveRunner(fleet, log, { maxParallel: 1, debounceMs: 0 });
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
  const waves = new WaveRunner(fleet, log, { maxParallel: 2, debounceMs: 50 });
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
  const waves = new WaveRunner(fleet, log, { maxParallel: 2, debounceMs: 0, approve: async () => false });
  const result = await waves.request({ profiles: ['healthy', 'fenced'], reason: 'swap', mandatory: ['fenced'], immediate: true });
  t.deepEqual(result.vetoed, ['healthy']);
  t.deepEqual(result.restarted, ['fenced']);
  t.true(events.some((event) => event.type === 'wave.veto_ignored' && event.fields.profile === 'fenced'));
});
