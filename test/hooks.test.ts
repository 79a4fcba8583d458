import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { EventLog } from '../src/events/index.js';
import { HOOK_OUTPUT_LIMIT, hookEnv, runHook, type HookContext, type HookName } from '../src/hooks/index.js';
import { liveGroupMembers } from '../src/proc/index.js';
import { readEventFile } from './helpers/events.js';
import { repoRoot } from './helpers/paths.js';
import { tempDir } from './helpers/tempDir.js';
import { poll } from './helpers/wait.js';

const exampleHook = (name: string) => path.join(repoRoot, 'supervisor', 'hooks', name);

interface Setup {
  dir: string;
  events: EventLog;
  logged: () => Array<Record<string, unknown>>;
}

function setup(t: ExecutionContext): Setup {
  const dir = tempDir(t, 'hermes-hooks-');
  const events = new EventLog(path.join(dir, 'state'));
  const logged = () => readEventFile(events.file);
  return { dir, events, logged };
}

function run(s: Setup, name: HookName, command: string[] | undefined, extra: { timeoutMs?: number; context?: HookContext; event?: Record<string, unknown> } = {}) {
  return runHook({
    name,
    command,
    timeoutMs: extra.timeoutMs ?? 60_000,
    event: extra.event ?? { type: `hook.${name}` },
    context: extra.context ?? {},
    events: s.events,
    cwd: s.dir,
  });
}

/** Waits for a pid the hook wrote to a file, and until its group has at least `members` running. */
async function groupOf(file: string, members: number): Promise<number> {
  const leader = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '');
  const text = await poll(leader, (pid) => pid !== '' && liveGroupMembers(Number(pid)).length >= members);
  if (text === '' || liveGroupMembers(Number(text)).length < members) throw new Error(`no group of ${members} from ${file}`);
  return Number(text);
}

/** Kills a group a test left behind, if the code under test did not. */
function reapAfter(t: ExecutionContext, pidFile: string) {
  t.teardown(() => {
    const text = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : '';
    if (text === '') return;
    // Only the hook's own members (its bash, naming the pid file, and its sleeps): a pgid reused
    // since by another test's group is left alone.
    const ours = (pid: number) => {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(pidFile) || cmdline.startsWith('sleep\0');
    };
    for (const pid of liveGroupMembers(Number(text))) {
      try {
        if (ours(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

test('hookEnv sets the event and only the context fields that apply', (t) => {
  t.deepEqual(hookEnv('on_swap', { board: 'default', generation: 0 }), {
    HERMES_SUPERVISOR_EVENT: 'on_swap',
    HERMES_SUPERVISOR_BOARD: 'default',
    HERMES_SUPERVISOR_GENERATION: '0',
  });
  t.deepEqual(hookEnv('pre_restart', {}), { HERMES_SUPERVISOR_EVENT: 'pre_restart' });
});

test.serial('the hook gets its variables, the event on stdin and its own process group; stale variables are dropped', async (t) => {
  const s = setup(t);
  const out = path.join(s.dir, 'seen.json');
  const script = [
    'import json, os, sys',
    'seen = {k: v for k, v in os.environ.items() if k.startswith("HERMES_SUPERVISOR_")}',
    'json.dump({"env": seen, "stdin": sys.stdin.read(), "pid": os.getpid(), "pgid": os.getpgid(0), "home": os.environ.get("HOME")}, open(sys.argv[1], "w"))',
  ].join('\n');
  const event = { type: 'restart.requested', profile: 'ops', nested: { list: [1, 2] } };
  process.env.HERMES_SUPERVISOR_BOARD = 'left over from the parent';
  let result;
  try {
    result = await run(s, 'pre_restart', ['python3', '-c', script, out], {
      event,
      context: { profile: 'ops', reason: 'swap', generation: 3, pid: 4242 },
    });
  } finally {
    delete process.env.HERMES_SUPERVISOR_BOARD;
  }
  t.like(result, { ran: true, ok: true, code: 0, signal: null, timedOut: false });
  const seen = JSON.parse(fs.readFileSync(out, 'utf8'));
  t.deepEqual(seen.env, {
    HERMES_SUPERVISOR_EVENT: 'pre_restart',
    HERMES_SUPERVISOR_PROFILE: 'ops',
    HERMES_SUPERVISOR_REASON: 'swap',
    HERMES_SUPERVISOR_GENERATION: '3',
    HERMES_SUPERVISOR_PID: '4242',
  });
  t.deepEqual(JSON.parse(seen.stdin), event);
  t.is(seen.pgid, seen.pid, 'the hook leads its own process group');
  t.is(seen.home, process.env.HOME, 'the rest of the environment is inherited');
});

test('a non-zero exit is ok: false with its code, and hook.run records the output', async (t) => {
  const s = setup(t);
  const command = ['python3', '-c', 'import sys; print("draining"); sys.stderr.write("busy\\n"); sys.exit(3)'];
  const result = await run(s, 'pre_restart', command, { context: { profile: 'ops' } });
  t.like(result, { ran: true, ok: false, code: 3, signal: null, timedOut: false });
  t.is(result.error, undefined);
  t.true(result.durationMs > 0);
  const [event, ...rest] = s.logged();
  t.is(rest.length, 0);
  t.like(event, { type: 'hook.run', hook: 'pre_restart', profile: 'ops', ok: false, code: 3, signal: null, timed_out: false, stdout: 'draining\n', stderr: 'busy\n' });
  t.deepEqual(event!.command, command);
  t.is(typeof event!.duration_ms, 'number');
});

test('a hanging hook is killed at its timeout together with its whole process group', async (t) => {
  const s = setup(t);
  const pidFile = path.join(s.dir, 'leader.pid');
  reapAfter(t, pidFile);
  // The timeout leaves a slow machine time to start the whole group before it is killed.
  const running = run(s, 'on_swap', ['bash', '-c', 'echo $$ > "$1"; sleep 60 & sleep 60', 'hook', pidFile], { timeoutMs: 5000 });
  const pgid = await groupOf(pidFile, 3);
  const result = await running;
  t.like(result, { ran: true, ok: false, timedOut: true, code: null, signal: 'SIGTERM' });
  t.deepEqual(liveGroupMembers(pgid), [], 'no member of the hook group runs');
  t.like(s.logged()[0], { type: 'hook.run', hook: 'on_swap', timed_out: true, ok: false });
  t.log(`hook killed after ${result.durationMs} ms (timeout 5000 ms)`);
});

test('a hook group that ignores SIGTERM is killed with SIGKILL', async (t) => {
  const s = setup(t);
  const pidFile = path.join(s.dir, 'leader.pid');
  reapAfter(t, pidFile);
  const script = 'trap "" TERM; echo $$ > "$1"; sleep 60 > /dev/null 2>&1 & sleep 60';
  const running = run(s, 'on_swap', ['bash', '-c', script, 'hook', pidFile], { timeoutMs: 5000 });
  const pgid = await groupOf(pidFile, 3);
  const result = await running;
  t.like(result, { ok: false, timedOut: true, signal: 'SIGKILL' });
  t.deepEqual(liveGroupMembers(pgid), []);
});

test('a missing program comes back as ok: false with an error, and is logged', async (t) => {
  const s = setup(t);
  const missing = path.join(s.dir, 'no-such-hook');
  const result = await run(s, 'on_corruption', [missing, '--flag'], { context: { board: 'default' } });
  t.like(result, { ran: true, ok: false, code: null, signal: null, timedOut: false });
  t.regex(result.error ?? '', /ENOENT/);
  t.like(s.logged()[0], { type: 'hook.run', hook: 'on_corruption', ok: false, code: null });
  t.regex(String(s.logged()[0]!.error), /no-such-hook: ENOENT/);
});

test('no command configured: nothing runs and nothing is logged', async (t) => {
  const s = setup(t);
  const result = await run(s, 'on_give_up', undefined);
  t.deepEqual(result, { ran: false, ok: true, code: null, signal: null, timedOut: false, durationMs: 0 });
  t.deepEqual(s.logged(), []);
});

test('output in the event is cut to the limit; the hook can still write all of it', async (t) => {
  const s = setup(t);
  const result = await run(s, 'post_restart', ['python3', '-c', 'import sys; sys.stdout.write("x" * 200000); sys.stderr.write("e" * 10)']);
  t.true(result.ok);
  const event = s.logged()[0]!;
  t.is(event.stdout, `${'x'.repeat(HOOK_OUTPUT_LIMIT)}... [${200000 - HOOK_OUTPUT_LIMIT} more bytes]`);
  t.is(event.stderr, 'e'.repeat(10));
});

test('a background process holding the output pipe does not keep the hook running', async (t) => {
  const s = setup(t);
  const pidFile = path.join(s.dir, 'leader.pid');
  reapAfter(t, pidFile);
  const result = await run(s, 'post_restart', ['bash', '-c', 'echo $$ > "$1"; sleep 30 & echo started', 'hook', pidFile], { timeoutMs: 20_000 });
  t.like(result, { ok: true, code: 0, timedOut: false });
  t.is(s.logged()[0]!.stdout, 'started\n');
});

test('example pre-restart-drain.sh vetoes while its flag exists', async (t) => {
  const s = setup(t);
  const drainDir = path.join(s.dir, 'drain');
  fs.mkdirSync(drainDir);
  const command = ['env', `HERMES_DRAIN_DIR=${drainDir}`, exampleHook('pre-restart-drain.sh')];
  t.true((await run(s, 'pre_restart', command, { context: { profile: 'ops' } })).ok);
  fs.writeFileSync(path.join(drainDir, 'ops'), '');
  const vetoed = await run(s, 'pre_restart', command, { context: { profile: 'ops' } });
  t.like(vetoed, { ok: false, code: 1 });
  t.true((await run(s, 'pre_restart', command, { context: { profile: 'other' } })).ok, 'another profile is not held');
  t.regex(String(s.logged()[1]!.stderr), /restart of ops vetoed/);
});

test('example notify.sh appends the event JSON to its file', async (t) => {
  const s = setup(t);
  const file = path.join(s.dir, 'notified.jsonl');
  const command = ['env', `HERMES_NOTIFY_FILE=${file}`, exampleHook('notify.sh')];
  await run(s, 'on_swap', command, { event: { type: 'board.swap', board: 'default', generation: 2 } });
  await run(s, 'on_give_up', command, { event: { type: 'gateway.failed', profile: 'ops' } });
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  t.deepEqual(lines, [
    { type: 'board.swap', board: 'default', generation: 2 },
    { type: 'gateway.failed', profile: 'ops' },
  ]);
});
