export { EventLog, monotonicMs, type SupervisorEvent, type EventListener, type EventLogRotation } from './log.js';
export { formatEvent } from './format.js';
