/** Sends one command to the supervisor over its control socket and waits for the final reply. */
import net from 'node:net';
import { LineSplitter } from './lines.js';
import { ControlError, encodeLine, parseReply } from './protocol.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Replies (status, logs) can be far bigger than requests. */
export const DEFAULT_MAX_REPLY_LINE_BYTES = 16 * 1024 * 1024;

export interface RequestOptions {
  /** Whole-request limit; 0 waits for ever (follow modes). Default DEFAULT_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Receives each streamed chunk, in order, before the final result. */
  onStream?(chunk: unknown): void;
  /** Aborting it closes the connection (the server stops the handler) and rejects with code "aborted". */
  signal?: AbortSignal;
  maxLineBytes?: number;
}

const REQUEST_ID = 1;
const NOT_RUNNING_ERRNOS = new Set(['ENOENT', 'ECONNREFUSED']);

function connectError(socketPath: string, err: NodeJS.ErrnoException): ControlError {
  if (err.code !== undefined && NOT_RUNNING_ERRNOS.has(err.code)) {
    return new ControlError('not_running', `no supervisor is running at ${socketPath} (${err.code})`);
  }
  return new ControlError('connect_failed', `cannot connect to the supervisor at ${socketPath}: ${err.message}`);
}

/** Resolves with the command's result; rejects with a ControlError whose code says what went wrong. */
export function request(
  socketPath: string,
  cmd: string,
  args: object = {},
  opts: RequestOptions = {},
): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const { signal, onStream } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ControlError('aborted', `request "${cmd}" was cancelled`));
      return;
    }
    const splitter = new LineSplitter(opts.maxLineBytes ?? DEFAULT_MAX_REPLY_LINE_BYTES);
    const socket = net.connect(socketPath);
    let connected = false;
    let done = false;
    let timer: NodeJS.Timeout | undefined;

    const onAbort = (): void => finish(new ControlError('aborted', `request "${cmd}" was cancelled`));
    const finish = (err: Error | null, result?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(result);
    };

    const handleLine = (line: string): void => {
      if (line.trim() === '') return;
      const parsed = parseReply(line);
      if (!parsed.ok) {
        finish(new ControlError('bad_reply', `the supervisor at ${socketPath} sent a malformed reply: ${parsed.message}`));
        return;
      }
      const reply = parsed.reply;
      // Errors about the connection itself (busy, too_large) carry no id.
      if (reply.id !== undefined && reply.id !== REQUEST_ID) return;
      if ('stream' in reply) {
        try {
          onStream?.(reply.stream);
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      } else if (reply.ok) {
        finish(null, reply.result);
      } else {
        finish(new ControlError(reply.error.code, reply.error.message));
      }
    };

    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs > 0) {
      timer = setTimeout(
        () => finish(new ControlError('timeout', `no reply from the supervisor at ${socketPath} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
    socket.on('connect', () => {
      connected = true;
      socket.write(encodeLine({ id: REQUEST_ID, cmd, args: args as Record<string, unknown> }));
    });
    socket.on('data', (chunk: Buffer) => {
      const { lines, overflow } = splitter.push(chunk);
      for (const line of lines) {
        if (done) return;
        handleLine(line);
      }
      if (overflow) finish(new ControlError('bad_reply', `the supervisor at ${socketPath} sent a reply line over the size limit`));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(connected ? new ControlError('connection_closed', `connection to the supervisor at ${socketPath} failed: ${err.message}`) : connectError(socketPath, err));
    });
    socket.on('close', () => {
      finish(new ControlError('connection_closed', `the supervisor at ${socketPath} closed the connection before replying`));
    });
  });
}
