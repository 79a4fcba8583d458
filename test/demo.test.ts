import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { locateConfig } from '../src/config/index.js';
import { consoleLine, formatEvent } from '../src/events/index.js';
import { runCli } from './helpers/cli.js';
import { readEventFile } from './helpers/events.js';
import { supervise } from './helpers/fleet.js';
import { makeFleetDir } from './helpers/fleetDir.js';
import { repoRoot } from './helpers/paths.js';
import type { Scope } from './helpers/scope.js';
import { tempDir } from './helpers/tempDir.js';
import { poll } from './helpers/wait.js';

const run = promisify(execFile);

/** A copy of the demo (config and example profiles) whose state stays in a temp folder. */
function demoCopy(t: Scope): string {
  const root = tempDir(t, 'hs-demo-');
  for (const folder of ['supervisor', 'profiles']) cpSync(path.join(repoRoot, folder), path.join(root, folder), { recursive: true });
  symlinkSync(path.join(repoRoot, 'dist'), path.join(root, 'dist'));
  return path.join(root, 'supervisor', 'supervisor.yaml');
}

test('the demo swap fences the gateways holding the board and brings them back in one wave', async (t) => {
  const config = demoCopy(t);
  const events = () => readEventFile(path.join(path.dirname(config), '..', '.demo', 'state', 'events.jsonl'));
  const supervisor = supervise(t, config);
  // Both granted demo gateways hold the board open before it is replaced.
  await supervisor.waitFor('dispatcher | holding the board open');
  await supervisor.waitFor('worker | holding the board open');

  const swap = await run(process.execPath, [path.join(repoRoot, 'dist', 'src', 'demo', 'swap.js'), '--config', config]);
  t.regex(swap.stdout, /replaced board default: .*\(inode \d+ -> \d+\)/);

  const isWaveDone = (event: Record<string, unknown>) => event.type === 'wave.done' && event.reason === 'swap';
  const seen = await poll(events, (all) => all.some(isWaveDone));
  const waveDone = () => seen.find(isWaveDone);
  const fence = seen.find((event) => event.type === 'board.fence');
  t.truthy(fence, `no board.fence; events: ${seen.map((event) => event.type).join(' ')}`);
  t.deepEqual([...(fence!.profiles as string[])].sort(), ['dispatcher', 'worker']);
  t.deepEqual([...((waveDone()?.restarted as string[] | undefined) ?? [])].sort(), ['dispatcher', 'worker']);
  t.deepEqual(waveDone()?.failed, []);
  t.true(seen.some((event) => event.type === 'board.swap' && event.board === 'default'));
  await supervisor.waitFor(/supervisor \| board\.fence board=default profiles=dispatcher,worker|supervisor \| board\.fence board=default profiles=worker,dispatcher/);

  const status = await runCli(['status', '--json', '--config', config]);
  const report = JSON.parse(status.stdout) as { boards: Array<{ generation: number }>; profiles: Array<{ name: string; last_restart_reason: string | null }> };
  t.is(report.boards[0]!.generation, fence!.generation as number);
  t.is(report.profiles.find((profile) => profile.name === 'worker')?.last_restart_reason, 'wave:swap');
});

test('the demo config of a clone is used only when no host config exists, and never silently', async (t) => {
  const fleet = makeFleetDir(t);
  const demo = path.join(fleet.root, 'supervisor', 'supervisor.yaml');
  mkdirSync(path.dirname(demo));
  writeFileSync(demo, 'gateway:\n  command: [python3]\n');
  const warned: string[] = [];
  const warn = (file: string) => warned.push(file);
  const host = path.join(fleet.hermesHome, 'supervisor.yaml');

  t.is(locateConfig(undefined, { HERMES_HOME: fleet.hermesHome }, fleet.root, warn), demo);
  t.deepEqual(warned, [demo]);
  writeFileSync(host, 'gateway:\n  command: [python3]\n');
  t.is(locateConfig(undefined, { HERMES_HOME: fleet.hermesHome }, fleet.root, warn), host, 'the host config beats the clone\'s');
  t.is(locateConfig(demo, { HERMES_HOME: fleet.hermesHome }, fleet.root, warn), demo, '--config names it: no warning');
  t.deepEqual(warned, [demo]);

  const env = { HOME: fleet.root, HERMES_HOME: '', HERMES_SUPERVISOR_CONFIG: '' };
  const implicit = await runCli(['validate', '--json'], { cwd: fleet.root, env });
  t.is(implicit.code, 0, implicit.stderr);
  t.regex(implicit.stderr, /warning: no host config found, using the demo config .*supervisor\/supervisor\.yaml/);
  const explicit = await runCli(['validate', '--json', '--config', demo], { cwd: fleet.root, env });
  t.is(explicit.code, 0, explicit.stderr);
  t.false(explicit.stderr.includes('demo config'));
});

test('event lines summarise nested values and keep every value one token', (t) => {
  const event = { ts: '2026-11-30T04:20:15.000Z', ts_ms: 0, mono_ms: 0, type: 'board.sidecars' };
  const line = formatEvent({
    ...event,
    moved: ['/var/lib/hermes/supervisor/quarantine/default/kanban.db.gen2-wal', '/var/lib/hermes/supervisor/quarantine/default/kanban.db.gen2-shm'],
    old: { dev: 2049, ino: 1234 },
    output: 'two words\nand a "quote"',
    none: [],
  });
  t.is(line, 'board.sidecars moved=kanban.db.gen2-wal,kanban.db.gen2-shm old=dev:2049,ino:1234 output="two words\\nand a \\"quote\\"" none=none');
  t.false(line.includes('{"'), 'no JSON objects');
});

test('console lines: aligned and plain when piped; timed, coloured and wrapped on a terminal', (t) => {
  const now = new Date(2026, 10, 30, 4, 20, 15, 7);
  const piped = { sourceWidth: 10, tty: false, color: false, columns: 100, now };
  t.is(consoleLine('worker | tick 1', piped), '    worker | tick 1');
  t.is(consoleLine('supervisor | gateway.ready profile=worker', piped), 'supervisor | gateway.ready profile=worker');

  const long = `supervisor | board.swap board=default ${Array.from({ length: 12 }, (_, i) => `field${i}="a value ${i}"`).join(' ')}`;
  const terminal = consoleLine(long, { ...piped, tty: true, columns: 100 });
  const lines = terminal.split('\n');
  t.true(lines.length > 1);
  t.true(lines[0]!.startsWith('04:20:15.007 supervisor | board.swap board=default'));
  for (const part of lines) t.true(part.length <= 100, part);
  t.true(lines.slice(1).every((part) => part.startsWith(' '.repeat(23) + ' |   field')), 'continuations start under the text');
  t.is(lines.join(' ').replace(/ +\|  /g, '').split('field').length, 13, 'no field lost or split');

  const coloured = consoleLine('supervisor | board.fence board=default', { ...piped, tty: true, color: true });
  t.true(coloured.includes('\x1b[33mboard.fence\x1b[0m'));
  t.false(consoleLine('supervisor | board.fence board=default', { ...piped, tty: true }).includes('\x1b['), 'NO_COLOR: no escapes');
});
