/** The supervisor's control socket: one instance per path, private to the owner, never brought down by a client. */
import type fs from 'node:fs';
import net from 'node:net';
import { request } from './client.js';
import { Connection, type CommandHandler } from './connection.js';
import { ControlError, DEFAULT_MAX_LINE_BYTES, encodeLine, errorReply, isPlainObject } from './protocol.js';
import {
  identityOf,
  listenPrivate,
  lstatOrNull,
  socketPathProblem,
  unlinkIfSame,
  type FileIdentity,
} from './socketfile.js';

export const DEFAULT_MAX_CONNECTIONS = 64;
export const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
export const DEFAULT_REQUEST_DEADLINE_MS = 5_000;
/** How long a refused client gets to read the busy reply before its connection is cut. */
const BUSY_LINGER_MS = 1_000;
/** How long a live-looking socket gets to answer ping before it counts as someone else's. */
const PROBE_TIMEOUT_MS = 2_000;
/** How long close() lets handlers in hand finish their replies before cutting connections. */
const CLOSE_GRACE_MS = 2_000;
const MAX_PENDING_WRITE_BYTES = 8 * 1024 * 1024;
/** Bind attempts when the path keeps reappearing, i.e. another instance is starting at the same time. */
const BIND_ATTEMPTS = 3;

export interface ControlServerOptions {
  socketPath: string;
  /** Command handlers by name; "ping" is built in and answers { pid, started_at }. */
  commands: Record<string, CommandHandler>;
  maxLineBytes?: number;
  maxConnections?: number;
  /** A connection with no request in hand that sends nothing for this long is closed. */
  idleTimeoutMs?: number;
  /** A request line must be complete this long after its first byte. */
  requestDeadlineMs?: number;
  /** Server-side problems worth logging; clients going away are not reported. */
  onError?(err: Error): void;
}

export interface ControlServer {
  readonly socketPath: string;
  /** Stops listening, removes the socket file if it is still ours, and ends every connection. */
  close(): Promise<void>;
}

export interface PingResult {
  pid: number;
  started_at: string;
}

export class AlreadyRunningError extends Error {
  readonly code = 'already_running';

  constructor(
    readonly socketPath: string,
    /** The running supervisor's pid, or null when whatever holds the socket did not say. */
    readonly pid: number | null,
    readonly startedAt: string | null,
  ) {
    super(
      pid === null
        ? `something is already listening at ${socketPath} and did not identify itself; not starting a second supervisor`
        : `a supervisor is already running at ${socketPath} (pid ${pid}, started ${startedAt ?? 'at an unknown time'})`,
    );
    this.name = 'AlreadyRunningError';
  }
}

function describeFileType(stats: fs.Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSymbolicLink()) return 'a symlink';
  if (stats.isFIFO()) return 'a FIFO';
  return 'not a socket';
}

/**
 * Throws AlreadyRunningError when a live server answers at socketPath; removes the file when it is
 * a socket nobody listens on (left by a supervisor that died). Anything else is refused untouched.
 */
async function clearStaleSocket(socketPath: string, stats: fs.Stats): Promise<void> {
  if (!stats.isSocket()) {
    throw new Error(`${socketPath} exists and is ${describeFileType(stats)}, not a socket; refusing to replace it (remove it or choose another control socket path)`);
  }
  let answer: unknown;
  try {
    answer = await request(socketPath, 'ping', {}, { timeoutMs: PROBE_TIMEOUT_MS });
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    if (err.code === 'not_running') {
      unlinkIfSame(socketPath, identityOf(stats));
      return;
    }
    if (err.code === 'connect_failed') {
      throw new Error(`cannot tell whether a supervisor is running at ${socketPath}: ${err.message}; refusing to replace it`);
    }
    // It accepted the connection, so it is alive, whatever it is.
    throw new AlreadyRunningError(socketPath, null, null);
  }
  const info = isPlainObject(answer) ? answer : {};
  throw new AlreadyRunningError(
    socketPath,
    typeof info.pid === 'number' ? info.pid : null,
    typeof info.started_at === 'string' ? info.started_at : null,
  );
}

async function claimSocketPath(listener: net.Server, socketPath: string): Promise<FileIdentity> {
  for (let attempt = 1; ; attempt++) {
    const existing = lstatOrNull(socketPath);
    if (existing !== null) await clearStaleSocket(socketPath, existing);
    try {
      return await listenPrivate(listener, socketPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= BIND_ATTEMPTS) throw err;
    }
  }
}

function buildCommands(commands: Record<string, CommandHandler>, ping: PingResult): Map<string, CommandHandler> {
  const map = new Map<string, CommandHandler>([['ping', async () => ping]]);
  for (const [name, handler] of Object.entries(commands)) {
    if (map.has(name)) throw new TypeError(`control command "${name}" is built in and cannot be replaced`);
    if (typeof handler !== 'function') throw new TypeError(`control command "${name}" has no handler function`);
    map.set(name, handler);
  }
  return map;
}

/**
 * Tells a client over the limit why it is refused. Its request is read and dropped rather than left
 * unread: closing on unread data resets the connection, and the client would see EPIPE, not the reason.
 */
function refuseBusy(socket: net.Socket, limit: number): void {
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.on('end', () => socket.destroy());
  setTimeout(() => socket.destroy(), BUSY_LINGER_MS).unref();
  socket.end(encodeLine(errorReply(undefined, 'busy', `too many control connections (limit ${limit}); try again shortly`)));
}

/**
 * Frees a slot when every one is taken: the oldest connection that has not yet sent a complete request
 * gives way. Clients that hold slots without asking anything (however many, whoever they are) cannot
 * keep out one that asks at once; one that has asked keeps its slot. Says whether a slot is free.
 */
function makeRoom(connections: Set<Connection>, limit: number): boolean {
  // A Set iterates in insertion order: the first match is the oldest.
  const victim = [...connections].find((connection) => connection.evictable);
  if (victim === undefined) return false;
  connections.delete(victim);
  victim.evict(`closed to make room for a new client: all ${limit} control connections were taken and this one had sent no complete request`);
  return true;
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const { socketPath } = opts;
  const pathProblem = socketPathProblem(socketPath);
  if (pathProblem !== null) throw new Error(pathProblem);
  const onError = opts.onError ?? (() => {});
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const commands = buildCommands(opts.commands, { pid: process.pid, started_at: new Date().toISOString() });
  const connectionOptions = {
    commands,
    maxLineBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    maxPendingWriteBytes: MAX_PENDING_WRITE_BYTES,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    requestDeadlineMs: opts.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS,
    onError,
  };

  const sockets = new Set<net.Socket>();
  const connections = new Set<Connection>();
  let closing: Promise<void> | null = null;

  // allowHalfOpen: a client may finish sending and still read its replies.
  const listener = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (closing !== null) {
      socket.destroy();
      return;
    }
    if (connections.size >= maxConnections && !makeRoom(connections, maxConnections)) {
      refuseBusy(socket, maxConnections);
      return;
    }
    const connection = new Connection(socket, connectionOptions);
    connections.add(connection);
    void connection.whenClosed().then(() => connections.delete(connection));
  });

  const identity = await claimSocketPath(listener, socketPath);
  listener.on('error', onError);

  const shutdown = async (): Promise<void> => {
    const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
    // New clients learn at once that nobody is there.
    unlinkIfSame(socketPath, identity);
    for (const connection of connections) connection.shutdown();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
    });
    await Promise.race([Promise.all([...connections].map((c) => c.whenClosed())), grace]);
    clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
    await stopped;
  };

  return {
    socketPath,
    close: () => (closing ??= shutdown()),
  };
}
