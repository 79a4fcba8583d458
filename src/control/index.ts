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
export { socketPathProblem } from './socketfile.js';
export {
  call,
  commandArgs,
  dispatchTable,
  parseArgs,
  type ArgsOf,
  type CheckReport,
  type CommandHandlers,
  type CommandName,
  type ForeignHolderRow,
  type HolderRow,
  type KanbanInitResult,
  type RestartResult,
  type ResultOf,
  type StatusReport,
  type ValidArgsOf,
  type WaveSummary,
  type WalRiskRow,
  type KanbanJournalModeResult,
  type KanbanRestoreResult,
} from './api.js';
