/** Control socket: the transport between the CLI and the running supervisor. */
export {
  DEFAULT_MAX_LINE_BYTES,
  ControlError,
  parseRequest,
  parseReply,
  type ControlRequest,
  type ErrorBody,
  type ParseReplyResult,
  type ParseRequestResult,
  type ProtocolErrorCode,
  type Reply,
  type RequestId,
} from './protocol.js';
export type { CommandContext, CommandHandler } from './connection.js';
export {
  AlreadyRunningError,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  startControlServer,
  type ControlServer,
  type ControlServerOptions,
  type PingResult,
} from './server.js';
export { DEFAULT_MAX_REPLY_LINE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, request, type RequestOptions } from './client.js';
export { checkStateDir, ensureStateDir } from './statedir.js';
export { lockStateDir, StateDirLockedError, LOCK_FILE, type InstanceLock } from './instanceLock.js';
export { readInstanceRecord, removeInstanceRecord, writeInstanceRecord, RECORD_FILE, type InstanceRecord } from './instanceRecord.js';
export { socketPathProblem } from './socketfile.js';
