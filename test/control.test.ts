import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AlreadyRunningError,
  call,
  ControlError,
  dispatchTable,
  parseArgs,
  parseRequest,
  request,
  startControlServer,
  type CommandHandler,
  type ControlServer,
  type ControlServerOptions,
} from '../src/control/index.js';
import { LineSplitter } from '../src/control/lines.js';
import { commandHandlers, type SupervisorVerbs } from '../src/daemon/index.js';
import { checkStateDir, ensureStateDir } from '../src/statedir/index.js';
import { tempDir } from './helpers/tempDir.js';
import { poll, within } from './helpers/wait.js';

const echo: CommandHandler = async (args) => args;

async function startServer(
  t: ExecutionContext,
  commands: Record<string, CommandHandler> = {},
  extra: Partial<ControlServerOptions> = {},
): Promise<ControlServer> {
  const socketPath = path.join(tempDir(t), 'control.sock');
  const server = await startControlServer({ socketPath, commands: { echo, ...commands }, ...extra });
  t.teardown(() => server.close());
  return server;
}

/** A bare socket client that sends exact bytes and reads reply lines as parsed JSON. */
class RawClient {
  private buffer = '';
  private readonly lines: unknown[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.trim() !== '') this.lines.push(JSON.parse(line));
      }
      this.wake();
    });
    // The server may close while we still send (too_large, busy): that is the behaviour under test.
    socket.on('error', () => {});
    // Half-open on our side, so the server finishing its side shows as 'end' rather than 'close'.
    this.closed = new Promise((resolve) => {
      const onGone = (): void => {
        this.ended = true;
        this.wake();
        resolve();
      };
      socket.once('end', onGone);
      socket.once('close', onGone);
    });
  }

  static connect(socketPath: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ path: socketPath, allowHalfOpen: true });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** The next reply line, or null once the server ended the connection with nothing more. */
  async next(): Promise<any> {
    while (this.lines.length === 0 && !this.ended) {
      await within(new Promise<void>((resolve) => (this.waiter = resolve)), 'a reply line');
    }
    return this.lines.length > 0 ? this.lines.shift() : null;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function rawClient(t: ExecutionContext, socketPath: string): Promise<RawClient> {
  const client = await RawClient.connect(socketPath);
  t.teardown(() => client.destroy());
  return client;
}

async function assertAnswersOnNewConnection(t: ExecutionContext, socketPath: string): Promise<void> {
  t.deepEqual(await request(socketPath, 'echo', { still: 'up' }), { still: 'up' });
}

function controlErrorCode(t: ExecutionContext, promise: Promise<unknown>): Promise<string> {
  return t.throwsAsync(promise, { instanceOf: ControlError }).then((err) => (err as ControlError).code);
}

// --- protocol -----------------------------------------------------------------------------------

const known = new Set(['status', 'restart']);

test('parseRequest accepts a request and defaults args to an empty object', (t) => {
  t.deepEqual(parseRequest('{"id":7,"cmd":"status"}', known), { ok: true, request: { id: 7, cmd: 'status', args: {} } });
  t.deepEqual(parseRequest('{"cmd":"restart","args":{"profile":"a"}}', known), {
    ok: true,
    request: { cmd: 'restart', args: { profile: 'a' } },
  });
});

test('parseRequest names what is wrong with a bad request and keeps its id', (t) => {
  const codeOf = (line: string): string | undefined => {
    const parsed = parseRequest(line, known);
    return parsed.ok ? undefined : parsed.error.code;
  };
  t.is(codeOf('{"cmd":'), 'bad_json');
  t.is(codeOf('not json'), 'bad_json');
  t.is(codeOf('[1,2]'), 'bad_request');
  t.is(codeOf('"status"'), 'bad_request');
  t.is(codeOf('null'), 'bad_request');
  t.is(codeOf('{}'), 'bad_request');
  t.is(codeOf('{"cmd":3}'), 'bad_request');
  t.is(codeOf('{"cmd":""}'), 'bad_request');
  t.is(codeOf('{"cmd":"status","args":[1]}'), 'bad_request');
  t.is(codeOf('{"cmd":"status","id":{}}'), 'bad_request');
  const unknown = parseRequest('{"id":"x1","cmd":"reboot"}', known);
  t.false(unknown.ok);
  if (!unknown.ok) {
    t.is(unknown.id, 'x1');
    t.is(unknown.error.code, 'unknown_command');
    t.regex(unknown.error.message, /"reboot"/);
    t.regex(unknown.error.message, /restart, status/);
  }
});

test('LineSplitter joins lines split across chunks and stops at the size limit', (t) => {
  const splitter = new LineSplitter(10);
  t.deepEqual(splitter.push(Buffer.from('ab')), { lines: [], overflow: false });
  t.deepEqual(splitter.push(Buffer.from('c\r\nde\nf')), { lines: ['abc', 'de'], overflow: false });
  t.is(splitter.partialBytes, 1);
  t.deepEqual(splitter.push(Buffer.from('0123456789\nz\n')), { lines: [], overflow: true });
  t.deepEqual(splitter.push(Buffer.from('ok\n')), { lines: [], overflow: true });
});

// --- socket file and single instance ------------------------------------------------------------

test('the socket file is mode 0600 and close() removes it', async (t) => {
  const umaskBefore = process.umask(0o022);
  process.umask(umaskBefore);
  const server = await startServer(t);
  t.is(fs.statSync(server.socketPath).mode & 0o777, 0o600);
  t.true(fs.lstatSync(server.socketPath).isSocket());
  t.deepEqual(fs.readdirSync(path.dirname(server.socketPath)), ['control.sock'], 'no bind leftovers');
  t.is(process.umask(umaskBefore), umaskBefore, 'process umask untouched');
  await server.close();
  t.false(fs.existsSync(server.socketPath));
  t.is(await controlErrorCode(t, request(server.socketPath, 'ping')), 'not_running');
});

test('ping answers with the pid and start time', async (t) => {
  const server = await startServer(t);
  const pong = (await request(server.socketPath, 'ping')) as { pid: number; started_at: string };
  t.is(pong.pid, process.pid);
  t.false(Number.isNaN(Date.parse(pong.started_at)));
});

test('a second server on the same path fails with AlreadyRunningError carrying the first one’s pid', async (t) => {
  const first = await startServer(t);
  const before = fs.lstatSync(first.socketPath);
  const err = await t.throwsAsync(startControlServer({ socketPath: first.socketPath, commands: {} }), {
    instanceOf: AlreadyRunningError,
  });
  t.is(err?.pid, process.pid);
  t.is(err?.code, 'already_running');
  t.regex(err?.message ?? '', new RegExp(`pid ${process.pid}`));
  const after = fs.lstatSync(first.socketPath);
  t.is(after.ino, before.ino, 'the running server’s socket was left in place');
  await assertAnswersOnNewConnection(t, first.socketPath);
});

test('a socket left by a killed process is recovered', async (t) => {
  const socketPath = path.join(tempDir(t), 'control.sock');
  const child = spawn(
    process.execPath,
    ['-e', 'require("net").createServer().listen(process.argv[1], () => console.log("listening"))', socketPath],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  await within(new Promise((resolve) => child.stdout.once('data', resolve)), 'the child listening');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const stale = fs.lstatSync(socketPath);
  t.true(stale.isSocket(), 'the killed process left its socket file');
  t.is(await controlErrorCode(t, request(socketPath, 'ping')), 'not_running');
  // A second link keeps the stale inode alive, so the fresh socket cannot be handed its number.
  fs.linkSync(socketPath, `${socketPath}.stale`);

  const server = await startControlServer({ socketPath, commands: { echo } });
  t.teardown(() => server.close());
  t.not(fs.lstatSync(socketPath).ino, stale.ino, 'a fresh socket replaced the stale one');
  t.is(((await request(socketPath, 'ping')) as { pid: number }).pid, process.pid);
});

test('a regular file at the socket path is refused and left alone', async (t) => {
  const socketPath = path.join(tempDir(t), 'control.sock');
  fs.writeFileSync(socketPath, 'precious\n');
  const err = await t.throwsAsync(startControlServer({ socketPath, commands: {} }));
  t.regex(err?.message ?? '', /regular file, not a socket; refusing/);
  t.true(err?.message.includes(socketPath));
  t.is(fs.readFileSync(socketPath, 'utf8'), 'precious\n');
});

test('close() leaves alone a file that replaced our socket', async (t) => {
  const server = await startServer(t);
  fs.unlinkSync(server.socketPath);
  fs.writeFileSync(server.socketPath, 'someone else’s\n');
  await server.close();
  t.is(fs.readFileSync(server.socketPath, 'utf8'), 'someone else’s\n');
});

test('the client reports not_running for a missing socket, naming the path', async (t) => {
  const socketPath = path.join(tempDir(t), 'absent.sock');
  const err = await t.throwsAsync(request(socketPath, 'status'), { instanceOf: ControlError });
  t.is((err as ControlError).code, 'not_running');
  t.is(err?.message, `no supervisor is running at ${socketPath} (ENOENT)`);
});

// --- requests -----------------------------------------------------------------------------------

test('bad lines get error replies and the same connection keeps working', async (t) => {
  const server = await startServer(t);
  const client = await rawClient(t, server.socketPath);
  const cases: Array<[string, string]> = [
    ['this is not json', 'bad_json'],
    ['[1,2,3]', 'bad_request'],
    ['42', 'bad_request'],
    ['{"id":1}', 'bad_request'],
    ['{"id":2,"cmd":"echo","args":"x"}', 'bad_request'],
    ['{"id":3,"cmd":"reboot"}', 'unknown_command'],
  ];
  for (const [line, code] of cases) {
    client.send(`${line}\n`);
    const reply = await client.next();
    t.is(reply.ok, false, line);
    t.is(reply.error.code, code, line);
  }
  client.send('{"id":4,"cmd":"nope"}\n');
  const unknown = await client.next();
  t.is(unknown.id, 4);
  t.regex(unknown.error.message, /unknown command "nope"; known commands: echo, ping/);
  client.send('{"id":5,"cmd":"echo","args":{"a":1}}\n');
  t.deepEqual(await client.next(), { id: 5, ok: true, result: { a: 1 } });
  await assertAnswersOnNewConnection(t, server.socketPath);
});

test('a truncated final line gets a truncated error and the server still answers', async (t) => {
  const server = await startServer(t);
  const client = await rawClient(t, server.socketPath);
  client.send('{"id":1,"cmd":"echo"}\n{"id":2,"cmd":"ec');
  client.socket.end();
  t.deepEqual(await client.next(), { id: 1, ok: true, result: {} });
  const reply = await client.next();
  t.is(reply.error.code, 'truncated');
  t.is(await client.next(), null, 'the server closed the connection');
  await assertAnswersOnNewConnection(t, server.socketPath);
});

test('an oversized line gets too_large and its connection is closed', async (t) => {
  const server = await startServer(t, {}, { maxLineBytes: 1024 });
  const client = await rawClient(t, server.socketPath);
  client.send('{"id":1,"cmd":"echo"}\n');
  t.is((await client.next()).ok, true);
  client.send(`{"cmd":"echo","args":{"pad":"${'x'.repeat(4096)}"}}\n{"id":2,"cmd":"echo"}\n`);
  const reply = await client.next();
  t.is(reply.error.code, 'too_large');
  t.regex(reply.error.message, /1024 bytes/);
  t.is(await client.next(), null, 'nothing after the oversized line is answered');
  await assertAnswersOnNewConnection(t, server.socketPath);
});

test('the default limit stops a line that never ends without buffering it', async (t) => {
  const server = await startServer(t);
  const client = await rawClient(t, server.socketPath);
  client.send('x'.repeat(200 * 1024));
  const reply = await client.next();
  t.is(reply.error.code, 'too_large');
  t.regex(reply.error.message, /65536 bytes/);
  await within(client.closed, 'the server closing the connection');
  await assertAnswersOnNewConnection(t, server.socketPath);
});

test('a throwing or rejecting handler gets an error reply and the server stays up', async (t) => {
  const server = await startServer(t, {
    explode: () => {
      throw new Error('kaboom');
    },
    reject: async () => Promise.reject(new Error('went wrong')),
    refuse: async () => {
      throw new ControlError('no_such_profile', 'profile "zed" does not exist');
    },
    cyclic: async () => {
      const value: Record<string, unknown> = {};
      value.self = value;
      return value;
    },
  });
  const client = await rawClient(t, server.socketPath);
  client.send('{"id":1,"cmd":"explode"}\n{"id":2,"cmd":"reject"}\n{"id":3,"cmd":"refuse"}\n{"id":4,"cmd":"cyclic"}\n');
  t.deepEqual(await client.next(), { id: 1, ok: false, error: { code: 'internal', message: 'kaboom' } });
  t.deepEqual(await client.next(), { id: 2, ok: false, error: { code: 'internal', message: 'went wrong' } });
  t.deepEqual(await client.next(), {
    id: 3,
    ok: false,
    error: { code: 'no_such_profile', message: 'profile "zed" does not exist' },
  });
  const cyclic = await client.next();
  t.is(cyclic.error.code, 'internal');
  t.regex(cyclic.error.message, /could not be encoded as JSON/);
  client.send('{"id":5,"cmd":"echo"}\n');
  t.deepEqual(await client.next(), { id: 5, ok: true, result: {} });
  t.is(await controlErrorCode(t, request(server.socketPath, 'refuse')), 'no_such_profile');
  await assertAnswersOnNewConnection(t, server.socketPath);
});

test('requests on one connection are answered in order', async (t) => {
  const server = await startServer(t, {
    slow: async (args) => {
      await delay(Number(args.ms));
      return args.ms;
    },
  });
  const client = await rawClient(t, server.socketPath);
  client.send(
    ['{"id":"a","cmd":"slow","args":{"ms":60}}', '{"id":"b","cmd":"slow","args":{"ms":0}}', '{"id":"c","cmd":"echo"}', ''].join('\n'),
  );
  const ids = [(await client.next()).id, (await client.next()).id, (await client.next()).id];
  t.deepEqual(ids, ['a', 'b', 'c']);
});

test('a client that half-closes still gets its replies', async (t) => {
  const server = await startServer(t);
  const client = await rawClient(t, server.socketPath);
  client.send('{"id":1,"cmd":"echo","args":{"n":1}}\n{"id":2,"cmd":"echo","args":{"n":2}}\n');
  client.socket.end();
  t.deepEqual(await client.next(), { id: 1, ok: true, result: { n: 1 } });
  t.deepEqual(await client.next(), { id: 2, ok: true, result: { n: 2 } });
  t.is(await client.next(), null);
});

test('a streaming command delivers its chunks and then the final result', async (t) => {
  const server = await startServer(t, {
    count: async (args, ctx) => {
      for (let i = 1; i <= Number(args.to); i++) ctx.send({ n: i });
      return 'done';
    },
  });
  const chunks: unknown[] = [];
  const result = await request(server.socketPath, 'count', { to: 3 }, { onStream: (chunk) => chunks.push(chunk) });
  t.deepEqual(chunks, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  t.is(result, 'done');

  const client = await rawClient(t, server.socketPath);
  client.send('{"id":"s","cmd":"count","args":{"to":2}}\n');
  t.deepEqual(await client.next(), { id: 's', stream: { n: 1 } });
  t.deepEqual(await client.next(), { id: 's', stream: { n: 2 } });
  t.deepEqual(await client.next(), { id: 's', ok: true, result: 'done' });
});

test('a client that disconnects mid-request aborts the handler’s signal', async (t) => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let sawAbort!: (reason: unknown) => void;
  const aborted = new Promise<unknown>((resolve) => (sawAbort = resolve));
  const server = await startServer(t, {
    // A quiet follow: writes nothing until aborted, so only the disconnect can stop it.
    wait: async (_args, ctx) => {
      started();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      sawAbort(ctx.signal.reason);
      return 'stopped';
    },
  });
  const client = await rawClient(t, server.socketPath);
  client.send('{"id":1,"cmd":"wait"}\n');
  await within(running, 'the handler starting');
  client.destroy();
  const reason = await within(aborted, 'the handler’s signal aborting');
  t.true(reason instanceof ControlError);
  t.is((reason as ControlError).code, 'disconnected');
  await assertAnswersOnNewConnection(t, server.socketPath);
});

test('aborting the client’s signal cancels a stream and stops the handler', async (t) => {
  let handlerStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (handlerStopped = resolve));
  const server = await startServer(t, {
    follow: async (_args, ctx) => {
      let n = 0;
      while (!ctx.signal.aborted) {
        ctx.send(++n);
        await delay(5);
      }
      handlerStopped();
      return n;
    },
  });
  const controller = new AbortController();
  const chunks: unknown[] = [];
  const pending = request(server.socketPath, 'follow', {}, {
    timeoutMs: 0,
    signal: controller.signal,
    onStream: (chunk) => {
      chunks.push(chunk);
      if (chunks.length === 3) controller.abort();
    },
  });
  t.is(await controlErrorCode(t, pending), 'aborted');
  t.deepEqual(chunks, [1, 2, 3]);
  await within(stopped, 'the streaming handler stopping');
});

test('connections beyond the cap are answered busy', async (t) => {
  const server = await startServer(t, {}, { maxConnections: 2 });
  const first = await rawClient(t, server.socketPath);
  const second = await rawClient(t, server.socketPath);
  first.send('{"id":1,"cmd":"echo"}\n');
  second.send('{"id":1,"cmd":"echo"}\n');
  t.is((await first.next()).ok, true);
  t.is((await second.next()).ok, true);
  // Every refused client reads the reason, never a reset connection (EPIPE) in its place.
  for (let attempt = 0; attempt < 30; attempt++) t.is(await controlErrorCode(t, request(server.socketPath, 'echo')), 'busy');
  first.destroy();
  await first.closed;
  // The server notices the close on its own schedule; retry until the slot is free.
  const result = await poll(() => request(server.socketPath, 'echo', { again: true }).catch(() => undefined), (reply) => reply !== undefined);
  t.deepEqual(result, { again: true });
});

test('an idle connection is closed with a reason; one waiting on a long request is not', async (t) => {
  const server = await startServer(
    t,
    // Far apart, so a stalled test process cannot send its request only after the idle timeout.
    { slow: async () => delay(2500).then(() => 'done') },
    { idleTimeoutMs: 1000 },
  );
  const idle = await rawClient(t, server.socketPath);
  const reply = await idle.next();
  t.like(reply, { ok: false, error: { code: 'idle' } });
  await within(idle.closed, 'the idle connection closing');

  const busy = await rawClient(t, server.socketPath);
  busy.send('{"id":1,"cmd":"slow"}\n');
  t.like(await busy.next(), { id: 1, ok: true, result: 'done' });
});

test('close() aborts a running handler, still sends its reply and ends the connection', async (t) => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const server = await startServer(t, {
    wait: async (_args, ctx) => {
      started();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      throw ctx.signal.reason;
    },
  });
  const client = await rawClient(t, server.socketPath);
  client.send('{"id":1,"cmd":"wait"}\n');
  await within(running, 'the handler starting');
  await within(server.close(), 'close()');
  t.deepEqual(await client.next(), { id: 1, ok: false, error: { code: 'shutting_down', message: 'the supervisor is shutting down' } });
  t.is(await client.next(), null);
  t.false(fs.existsSync(server.socketPath));
});

// --- state dir ----------------------------------------------------------------------------------

test('ensureStateDir creates a missing dir with mode 0700', (t) => {
  const dir = path.join(tempDir(t), 'state', 'nested');
  ensureStateDir(dir);
  t.is(fs.statSync(dir).mode & 0o777, 0o700);
  t.is(checkStateDir(dir), null);
  t.notThrows(() => ensureStateDir(dir), 'an existing private dir is accepted');
});

test('ensureStateDir refuses a dir writable by others and leaves its mode alone', (t) => {
  const dir = path.join(tempDir(t), 'open');
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o777);
  const err = t.throws(() => ensureStateDir(dir));
  t.is(err?.message, `state dir ${dir} is writable by group or others (mode 0777); run chmod go-w on it`);
  t.is(fs.statSync(dir).mode & 0o777, 0o777);
});

test('ensureStateDir refuses a symlink to an open dir', (t) => {
  const base = tempDir(t);
  const target = path.join(base, 'open');
  fs.mkdirSync(target);
  fs.chmodSync(target, 0o770);
  const link = path.join(base, 'state');
  fs.symlinkSync(target, link);
  t.throws(() => ensureStateDir(link), { message: `state dir ${link} is a symlink to ${target}, which is writable by group or others (mode 0770); run chmod go-w on it` });
  fs.chmodSync(target, 0o700);
  t.notThrows(() => ensureStateDir(link), 'a symlink to a private dir is fine');
});

test('checkStateDir refuses a dir owned by someone else', (t) => {
  // As root, hand a dir to another uid; otherwise "/" is someone else's.
  let dir = '/';
  if (process.getuid?.() === 0) {
    dir = path.join(tempDir(t), 'theirs');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, 4242, 4242);
  }
  const problem = checkStateDir(dir);
  t.truthy(problem);
  t.regex(problem ?? '', new RegExp(`^state dir ${dir} is owned by uid \\d+, not by the current user \\(uid ${process.getuid?.()}\\)$`));
  t.throws(() => ensureStateDir(dir), { message: problem ?? '' });
});

test('parseArgs fills defaults and names the argument and what was expected', (t) => {
  t.deepEqual(parseArgs('restart', {}), { profiles: [], all: false, stale: false, wait: true, graceful: false });
  t.deepEqual(parseArgs('kanban_init', {}), { board: 'default' });
  const wrongType = t.throws(() => parseArgs('restart', { profiles: 'alpha' }), { instanceOf: ControlError });
  t.is(wrongType.code, 'bad_request');
  t.is(wrongType.message, 'restart: "profiles": expected a list of profile names');
  t.is(t.throws(() => parseArgs('check', { ful: true }))?.message, 'check: unknown argument "ful"');
  t.is(t.throws(() => parseArgs('check', { full: 'yes' }))?.message, 'check: "full": expected true or false');
  t.is(t.throws(() => parseArgs('stop', { profiles: [] }))?.message, 'stop: "profiles": expected at least one profile to stop');
});

test('the dispatch table checks arguments before a handler runs and answers with its result', async (t) => {
  const boards: string[] = [];
  const verbs = {
    profileNames: () => ['alpha'],
    boardNames: () => ['default'],
    reinitBoard: async (slug: string) => {
      boards.push(slug);
      return { board: slug, ok: true, init: { code: 0, signal: null, output: '', duration_ms: 1, error: null }, integrity: null, generation: 2, wave: { restarted: [], failed: [], vetoed: [], duration_ms: 0 } };
    },
  } as unknown as SupervisorVerbs;
  const server = await startServer(t, dispatchTable(commandHandlers(verbs)));
  const result = await call(server.socketPath, 'kanban_init', {});
  t.is(result.generation, 2);
  t.deepEqual(boards, ['default'], 'the default board was filled in');
  t.is(await controlErrorCode(t, call(server.socketPath, 'kanban_init', { board: 'nosuch' })), 'unknown_board');
  t.is(await controlErrorCode(t, call(server.socketPath, 'restart', { profiles: ['nosuch'] })), 'unknown_profile');
  t.is(await controlErrorCode(t, request(server.socketPath, 'check', { full: 1 })), 'bad_request');
  t.deepEqual(boards, ['default'], 'no handler ran for a refused request');
});
