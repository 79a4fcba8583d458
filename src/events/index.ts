export { EventLog, type SupervisorEvent, type EventListener } from './log.js';
