/**
 * The control socket's wire format: one JSON object per line, UTF-8, in both directions.
 *
 * Request:  {"id"?: string|number, "cmd": string, "args"?: object}
 * Replies:  {"id"?, "ok": true, "result": any}
 *           {"id"?, "ok": false, "error": {"code": string, "message": string}}
 *           {"id"?, "stream": any}   (zero or more, before the final ok/error line)
 * Blank lines carry nothing and are ignored by both sides; the server writes one to learn whether a
 * client that stopped sending is still there to read.
 */

/** Longest request line the server accepts, newline excluded. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export type RequestId = string | number;

export interface ControlRequest {
  id?: RequestId;
  cmd: string;
  args: Record<string, unknown>;
}

export interface ErrorBody {
  code: string;
  message: string;
}

export type OkReply = { id?: RequestId; ok: true; result: unknown };
export type ErrorReply = { id?: RequestId; ok: false; error: ErrorBody };
export type StreamReply = { id?: RequestId; stream: unknown };
export type Reply = OkReply | ErrorReply | StreamReply;

/**
 * Error codes on the wire. Handlers may use their own codes through ControlError; the client adds
 * codes for failures that never reach the server (not_running, timeout, ...).
 */
export type ProtocolErrorCode =
  | 'bad_json'
  | 'bad_request'
  | 'unknown_command'
  | 'too_large'
  | 'truncated'
  | 'busy'
  | 'internal'
  | 'shutting_down';

export type ParseRequestResult =
  | { ok: true; request: ControlRequest }
  | { ok: false; id?: RequestId; error: ErrorBody };

export type ParseReplyResult = { ok: true; reply: Reply } | { ok: false; message: string };

/** An error with a machine-readable code; a handler that throws one sends its code and message as is. */
export class ControlError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'ControlError';
    this.code = code;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === 'string' || typeof value === 'number';
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

export function parseRequest(line: string, knownCommands: ReadonlySet<string>): ParseRequestResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: { code: 'bad_json', message: `request is not valid JSON: ${(err as Error).message}` } };
  }
  if (!isPlainObject(value)) {
    return { ok: false, error: { code: 'bad_request', message: `request must be a JSON object, got ${describeJson(value)}` } };
  }
  const { id, cmd, args } = value;
  if (id !== undefined && !isRequestId(id)) {
    return { ok: false, error: { code: 'bad_request', message: `"id" must be a string or a number, got ${describeJson(id)}` } };
  }
  const fail = (code: ProtocolErrorCode, message: string): ParseRequestResult =>
    id === undefined ? { ok: false, error: { code, message } } : { ok: false, id, error: { code, message } };
  if (cmd === undefined) return fail('bad_request', 'request has no "cmd"');
  if (typeof cmd !== 'string' || cmd === '') {
    return fail('bad_request', `"cmd" must be a non-empty string, got ${typeof cmd === 'string' ? 'an empty string' : describeJson(cmd)}`);
  }
  if (args !== undefined && !isPlainObject(args)) {
    return fail('bad_request', `"args" must be a JSON object, got ${describeJson(args)}`);
  }
  if (!knownCommands.has(cmd)) {
    const known = [...knownCommands].sort().join(', ');
    return fail('unknown_command', `unknown command "${cmd}"; known commands: ${known}`);
  }
  const request: ControlRequest = { cmd, args: args ?? {} };
  if (id !== undefined) request.id = id;
  return { ok: true, request };
}

/** Checks the shape of one reply line as the client receives it. */
export function parseReply(line: string): ParseReplyResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, message: `reply is not valid JSON: ${(err as Error).message}` };
  }
  if (!isPlainObject(value)) return { ok: false, message: `reply must be a JSON object, got ${describeJson(value)}` };
  if (value.id !== undefined && !isRequestId(value.id)) return { ok: false, message: 'reply "id" must be a string or a number' };
  if ('stream' in value) return { ok: true, reply: value as StreamReply };
  if (value.ok === true) return { ok: true, reply: value as OkReply };
  if (value.ok === false) {
    const error = value.error;
    if (isPlainObject(error) && typeof error.code === 'string' && typeof error.message === 'string') {
      return { ok: true, reply: value as ErrorReply };
    }
    return { ok: false, message: 'error reply must carry "error": {"code": string, "message": string}' };
  }
  return { ok: false, message: 'reply has neither "stream" nor a boolean "ok"' };
}

function withId<T extends object>(id: RequestId | undefined, body: T): T & { id?: RequestId } {
  return id === undefined ? body : { id, ...body };
}

export function okReply(id: RequestId | undefined, result: unknown): OkReply {
  // JSON drops undefined members; a handler with nothing to say still yields a result member.
  return withId(id, { ok: true as const, result: result === undefined ? null : result });
}

export function errorReply(id: RequestId | undefined, code: string, message: string): ErrorReply {
  return withId(id, { ok: false as const, error: { code, message } });
}

export function streamReply(id: RequestId | undefined, chunk: unknown): StreamReply {
  return withId(id, { stream: chunk === undefined ? null : chunk });
}

/** One wire line; throws TypeError when the value cannot be JSON-encoded (cycles, BigInt). */
export function encodeLine(message: Reply | ControlRequest): string {
  return `${JSON.stringify(message)}\n`;
}
