export { EventLog, monotonicMs, type SupervisorEvent, type EventListener, type EventLogRotation } from './log.js';
export { consoleLine, formatEvent, wrap, type ConsoleLayout } from './format.js';
