export { EventLog, monotonicMs, type SupervisorEvent, type EventListener } from './log.js';
export { formatEvent } from './format.js';
