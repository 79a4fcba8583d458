export { Supervisor, type SupervisorOptions } from './supervisor.js';
export { commandHandlers } from './commands.js';
export { ReloadRejected, type SupervisorVerbs } from './verbs.js';

