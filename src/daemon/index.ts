export { Supervisor, ReloadRejected, type SupervisorOptions } from './supervisor.js';
export type { StatusReport } from './status.js';
