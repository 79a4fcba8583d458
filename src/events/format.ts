import path from 'node:path';
import type { SupervisorEvent } from './log.js';

const QUIET_FIELDS = new Set(['ts', 'ts_ms', 'mono_ms', 'type']);
/** Messages are what an operator reads the line for: shown whole, however long. */
const WHOLE_FIELDS = new Set(['error', 'detail', 'reason', 'note']);
/** A value longer than this is cut: the event log keeps it whole (`events --json`). */
const MAX_VALUE = 60;
/** Of a long path the end says most: the file and its folder. */
const MAX_PATH = 40;

function cut(text: string): string {
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** A path keeps its end (inside a list, its file name alone); any other text its start. */
function shorten(text: string, nested: boolean): string {
  if (!text.startsWith('/')) return cut(text);
  if (nested) return path.basename(text);
  return text.length > MAX_PATH ? `…${text.slice(-(MAX_PATH - 1))}` : text;
}

/** Text as one token: a plain word as is, anything else quoted so it cannot forge a field or a line. */
function quoted(text: string): string {
  return /^[^\s"]+$/.test(text) ? text : JSON.stringify(text);
}

/**
 * A value as one token: a plain word as is; anything with spaces, quotes or newlines (a hook's output)
 * quoted, so no value can forge a line or a field of its own; nested values summarised, not dumped.
 */
export function summariseValue(value: unknown, nested = false): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return quoted(shorten(value, nested));
  if (typeof value !== 'object') return String(value);
  if (nested) return Array.isArray(value) ? `[${value.length}]` : '{…}';
  const parts = Array.isArray(value)
    ? value.map((item) => summariseValue(item, true))
    : Object.entries(value).map(([name, item]) => `${name}:${summariseValue(item, true)}`);
  if (parts.length === 0) return 'none';
  // As many items as fit, then how many more.
  let shown = cut(parts[0]!);
  let count = 1;
  while (count < parts.length && shown.length + 1 + parts[count]!.length <= MAX_VALUE) shown += `,${parts[count++]}`;
  return count < parts.length ? `${shown},+${parts.length - count}` : shown;
}

/** An event's type and its `name=value` fields, every value one token without spaces outside quotes. */
export function eventFields(event: SupervisorEvent): string[] {
  return Object.entries(event)
    .filter(([name, value]) => !QUIET_FIELDS.has(name) && value !== undefined && value !== null)
    .map(([name, value]) => `${name}=${WHOLE_FIELDS.has(name) && typeof value === 'string' ? quoted(value) : summariseValue(value)}`);
}

/** One readable line for an event: its type, then `name=value` for every field that has a value. */
export function formatEvent(event: SupervisorEvent, withTime = false): string {
  return `${withTime ? `${event.ts} ` : ''}${event.type} ${eventFields(event).join(' ')}`.trimEnd();
}

export interface ConsoleLayout {
  /** Width the source column (`supervisor` or a profile) is right-aligned to. */
  sourceWidth: number;
  /** A terminal: time, colour, and lines wrapped at `columns`. Piped: one aligned line, nothing else. */
  tty: boolean;
  color: boolean;
  columns: number;
  now: Date;
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', blue: '\x1b[34m', magenta: '\x1b[35m', cyan: '\x1b[36m' } as const;
type Colour = keyof typeof ANSI;
const SOURCE_COLOURS: Colour[] = ['blue', 'magenta', 'cyan', 'green', 'yellow'];

/** What an event means for the operator, by type: trouble red, a board change yellow, progress cyan, health green. */
function eventColour(type: string): Colour | null {
  if (/^(board\.(corrupt|init_failed|stopped|stat_error|sidecar_error|watch_error)|policy\.|gateway\.failed|supervisor\.error)/.test(type)) return 'red';
  if (/^board\.(swap|fence|gone|sidecars|foreign_holders|quarantine)/.test(type)) return 'yellow';
  if (type.startsWith('wave.')) return 'cyan';
  if (type === 'gateway.ready') return 'green';
  return null;
}

function sourceColour(source: string): Colour {
  if (source === 'supervisor') return 'bold';
  let hash = 0;
  for (const char of source) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return SOURCE_COLOURS[hash % SOURCE_COLOURS.length]!;
}

/**
 * Splits text at spaces into lines of at most `width` (a longer word stays whole). An event's quoted
 * values, whose quotes formatEvent always closes, are never split.
 */
export function wrap(text: string, width: number, quoted = false): string[] {
  const words = (quoted ? text.match(/(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g) : null) ?? text.split(' ');
  const lines: string[] = [];
  let current = '';
  for (const word of words) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = `  ${word}`;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  return [...lines, current];
}

/**
 * A line of the supervisor's console (`<source> | <text>`: an event or a gateway's output), laid out:
 * the source right-aligned so the text starts in one column; on a terminal also the time, colours,
 * and long lines wrapped under the text column.
 */
export function consoleLine(line: string, layout: ConsoleLayout): string {
  const split = line.indexOf(' | ');
  const source = split >= 0 ? line.slice(0, split) : '';
  const text = split >= 0 ? line.slice(split + 3) : line;
  const column = source.padStart(layout.sourceWidth);
  if (!layout.tty) return `${column} | ${text}`;
  const paint = (colour: Colour | null, value: string) => (layout.color && colour ? `${ANSI[colour]}${value}${ANSI.reset}` : value);
  const time = layout.now.toTimeString().slice(0, 8) + `.${String(layout.now.getMilliseconds()).padStart(3, '0')}`;
  const prefix = `${paint('dim', time)} ${paint(sourceColour(source), column)} | `;
  const indent = `${' '.repeat(time.length + 1 + column.length)} | `;
  const width = Math.max(20, layout.columns - time.length - column.length - 4);
  const [first = '', ...rest] = wrap(text, width, source === 'supervisor');
  const typeEnd = first.indexOf(' ');
  const type = typeEnd >= 0 ? first.slice(0, typeEnd) : first;
  const head = source === 'supervisor' ? paint(eventColour(type), type) + first.slice(type.length) : first;
  return [prefix + head, ...rest.map((part) => indent + part)].join('\n');
}
