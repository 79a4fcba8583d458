export { EventLog, monotonicMs, type SupervisorEvent, type EventListener, type EventLogRotation } from './log.js';
export { consoleLine, formatEvent, type ConsoleLayout } from './format.js';
