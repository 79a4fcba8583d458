/** One client connection: reads request lines and answers them strictly in order. */
import type net from 'node:net';
import { LineSplitter } from './lines.js';
import {
  ControlError,
  encodeLine,
  errorReply,
  okReply,
  parseRequest,
  streamReply,
  type Reply,
  type RequestId,
} from './protocol.js';

export interface CommandContext {
  /** Streams one chunk to the client ahead of the final result; ignored once the request is over. */
  send(chunk: unknown): void;
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
}

export type CommandHandler = (args: Record<string, unknown>, ctx: CommandContext) => Promise<unknown>;

export interface ConnectionOptions {
  commands: ReadonlyMap<string, CommandHandler>;
  maxLineBytes: number;
  /** A client that lets this much reply data pile up unread is dropped. */
  maxPendingWriteBytes: number;
  /** A connection with no request in hand that sends nothing for this long is closed. */
  idleTimeoutMs: number;
  /** A request line must be complete this long after its first byte, however slowly the rest trickles in. */
  requestDeadlineMs: number;
  onError(err: Error): void;
}

type QueueItem =
  | { kind: 'line'; text: string }
  | { kind: 'fatal'; code: string; message: string }
  | { kind: 'end' };

/** Request lines read ahead of the one being handled before reading pauses. */
const MAX_QUEUED_LINES = 16;
/** How long a client cut off for a fatal error gets to read the reason before the connection is destroyed. */
const FATAL_LINGER_MS = 1_000;
/** Errors that only mean the client went away. */
const PEER_GONE_ERRNOS = new Set(['ECONNRESET', 'EPIPE']);

export class Connection {
  private readonly splitter: LineSplitter;
  private readonly knownCommands: ReadonlySet<string>;
  private readonly queue: QueueItem[] = [];
  private pumping = false;
  private reading = true;
  private shuttingDown = false;
  private inflight: AbortController | null = null;
  private readonly closed: Promise<void>;
  private deadline: NodeJS.Timeout | null = null;
  /** Whether the client has sent one complete request: until then it may give up its slot to a newcomer. */
  private delivered = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: ConnectionOptions,
  ) {
    this.splitter = new LineSplitter(opts.maxLineBytes);
    this.knownCommands = new Set(opts.commands.keys());
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === undefined || !PEER_GONE_ERRNOS.has(err.code)) opts.onError(err);
    });
    socket.on('close', () => {
      this.disarmDeadline();
      this.queue.length = 0;
      this.inflight?.abort(new ControlError('disconnected', 'the client disconnected'));
    });
    // Idle clients would otherwise hold connection slots until the limit locks every operator out.
    socket.setTimeout(opts.idleTimeoutMs, () => this.onIdle());
  }

  private onIdle(): void {
    if (this.inflight !== null || this.queue.length > 0 || this.pumping || this.shuttingDown) return;
    this.stopReading();
    this.enqueue({ kind: 'fatal', code: 'idle', message: `no request within ${this.opts.idleTimeoutMs} ms; closing the connection` });
  }

  /** A request that has begun must end within the deadline: a byte now and then does not keep a slot. */
  private armDeadline(): void {
    if (this.deadline !== null) return;
    this.deadline = setTimeout(() => this.onDeadline(), this.opts.requestDeadlineMs);
    this.deadline.unref();
  }

  private disarmDeadline(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
  }

  private onDeadline(): void {
    this.deadline = null;
    if (!this.reading) return;
    this.stopReading();
    this.enqueue({ kind: 'fatal', code: 'request_timeout', message: `no complete request line within ${this.opts.requestDeadlineMs} ms of its first byte; closing the connection` });
  }

  /** True while the client has never sent a complete request and nothing of its is in hand. */
  get evictable(): boolean {
    return !this.delivered && !this.shuttingDown && this.inflight === null && this.queue.length === 0 && !this.pumping;
  }

  /** Gives the slot to a newcomer: says why and closes. */
  evict(message: string): void {
    this.stopReading();
    this.disarmDeadline();
    this.enqueue({ kind: 'fatal', code: 'evicted', message });
  }

  /** Resolves once the socket is fully closed. */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  /** Stops reading, lets the request in hand finish (its signal aborted) and ends the connection. */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.stopReading();
    this.inflight?.abort(new ControlError('shutting_down', 'the supervisor is shutting down'));
    this.enqueue({ kind: 'end' });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (!this.reading) return;
    this.armDeadline();
    const { lines, overflow } = this.splitter.push(chunk);
    for (const text of lines) {
      // Blank lines are no request: they do not stop the deadline.
      if (text.trim() !== '') {
        this.delivered = true;
        this.disarmDeadline();
      }
      this.enqueue({ kind: 'line', text });
    }
    if (this.splitter.partialBytes > 0) this.armDeadline();
    if (overflow) {
      this.stopReading();
      this.enqueue({
        kind: 'fatal',
        code: 'too_large',
        message: `request line is longer than ${this.opts.maxLineBytes} bytes; closing the connection`,
      });
    }
  }

  private onEnd(): void {
    if (!this.reading) return;
    this.reading = false;
    if (this.splitter.partialBytes > 0) {
      this.enqueue({
        kind: 'fatal',
        code: 'truncated',
        message: `request line ended after ${this.splitter.partialBytes} bytes without a newline`,
      });
    } else {
      this.enqueue({ kind: 'end' });
    }
    // A client that only half-closed can still read; one that is gone fails this write at once
    // (EPIPE on a Unix socket), which aborts the request in hand.
    if (this.inflight) this.socket.write('\n');
  }

  private stopReading(): void {
    this.reading = false;
    this.disarmDeadline();
    this.socket.pause();
  }

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    if (this.reading && this.queue.length >= MAX_QUEUED_LINES) this.socket.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
        if (this.reading && this.queue.length < MAX_QUEUED_LINES) this.socket.resume();
        await this.process(item);
      }
    } catch (err) {
      this.opts.onError(err instanceof Error ? err : new Error(String(err)));
      this.socket.destroy();
    } finally {
      this.pumping = false;
    }
  }

  private async process(item: QueueItem): Promise<void> {
    switch (item.kind) {
      case 'line':
        if (item.text.trim() !== '') await this.answer(item.text);
        return;
      case 'fatal':
        this.queue.length = 0;
        // What the client still sends is read and dropped: left unread it would reset the connection
        // before the client reads the reason. Ended once the reply is out; cut after a short linger.
        this.socket.resume();
        this.write(errorReply(undefined, item.code, item.message), () => {
          this.socket.end();
          setTimeout(() => this.socket.destroy(), FATAL_LINGER_MS).unref();
        });
        return;
      case 'end':
        this.queue.length = 0;
        // Once our side is flushed there is nothing left to say; do not wait on a client that never ends.
        this.socket.end(() => this.socket.destroy());
        return;
    }
  }

  private async answer(line: string): Promise<void> {
    const parsed = parseRequest(line, this.knownCommands);
    if (!parsed.ok) {
      this.write(errorReply(parsed.id, parsed.error.code, parsed.error.message));
      return;
    }
    const { id, cmd, args } = parsed.request;
    if (this.shuttingDown) {
      this.write(errorReply(id, 'shutting_down', 'the supervisor is shutting down'));
      return;
    }
    const handler = this.opts.commands.get(cmd) as CommandHandler;
    const controller = new AbortController();
    this.inflight = controller;
    let over = false;
    const ctx: CommandContext = {
      signal: controller.signal,
      send: (chunk) => {
        if (over || controller.signal.aborted) return;
        this.write(streamReply(id, chunk));
      },
    };
    try {
      const result = await handler(args, ctx);
      over = true;
      this.writeResult(id, result);
    } catch (err) {
      over = true;
      this.write(handlerErrorReply(id, err));
    } finally {
      this.inflight = null;
    }
  }

  private writeResult(id: RequestId | undefined, result: unknown): void {
    let line: string;
    try {
      line = encodeLine(okReply(id, result));
    } catch (err) {
      this.write(errorReply(id, 'internal', `result could not be encoded as JSON: ${(err as Error).message}`));
      return;
    }
    this.writeRaw(line);
  }

  /** Throws only for a reply that cannot be JSON-encoded (a streamed chunk), so the handler hears of it. */
  private write(reply: Reply, done?: () => void): void {
    this.writeRaw(encodeLine(reply), done);
  }

  private writeRaw(line: string, done?: () => void): void {
    if (this.socket.destroyed || !this.socket.writable) {
      done?.();
      return;
    }
    this.socket.write(line, () => done?.());
    if (this.socket.writableLength > this.opts.maxPendingWriteBytes) {
      this.opts.onError(new Error(`control client dropped: over ${this.opts.maxPendingWriteBytes} bytes of replies unread`));
      this.socket.destroy();
    }
  }
}

function handlerErrorReply(id: RequestId | undefined, err: unknown): Reply {
  if (err instanceof ControlError) return errorReply(id, err.code, err.message);
  const message = err instanceof Error ? err.message : String(err);
  return errorReply(id, 'internal', message || 'command failed');
}
