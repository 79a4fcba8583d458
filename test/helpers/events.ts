import { existsSync, readFileSync } from 'node:fs';

export type Events = Array<Record<string, unknown>>;

/**
 * The events of one event log file (`events.jsonl`), oldest first; a file not written yet has none.
 * A last line without its newline is still being written (a reader can see part of a write) and is left for the next read.
 */
export function readEventFile(file: string): Events {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The events of one type, optionally of one profile only. */
export const ofType = (events: Events, type: string, profile?: string): Events =>
  events.filter((event) => event.type === type && (profile === undefined || event.profile === profile));
