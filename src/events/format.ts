import type { SupervisorEvent } from './log.js';

const QUIET_FIELDS = new Set(['ts', 'ts_ms', 'mono_ms', 'type']);

/** One readable line for an event: its type, then `name=value` for every field that has a value. */
export function formatEvent(event: SupervisorEvent, withTime = false): string {
  const fields = Object.entries(event)
    .filter(([name, value]) => !QUIET_FIELDS.has(name) && value !== undefined && value !== null)
    // A plain word prints as is; anything with spaces, quotes or newlines (a hook's output) is quoted,
    // so no value can forge a line of its own.
    .map(([name, value]) => `${name}=${typeof value === 'string' && /^[^\s"]*$/.test(value) ? value : JSON.stringify(value)}`);
  return `${withTime ? `${event.ts} ` : ''}${event.type} ${fields.join(' ')}`.trimEnd();
}
