/**
 * Text made safe to show: secrets hidden by the variable's name and by the value's shape, and control
 * characters escaped so no value can forge a line of its own or drive the terminal.
 */

export const REDACTED = '***';

/** Names whose values are secrets whatever they look like. */
const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIAL|AUTH|COOKIE|PRIVATE|BEARER|WEBHOOK|DSN)/i;
/** Short markers that are secrets only as a whole word of the name (PAT, not PATH). */
const SECRET_NAME_WORD = /(^|_)(PAT|SIG|SIGNATURE|SESSION)(_|$)/i;

/** Value shapes that are secrets wherever they appear, each with what replaces it. */
const SECRET_SHAPES: Array<[RegExp, string]> = [
  // Credentials in a URL: scheme://user:password@host or scheme://token@host (a Sentry DSN).
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"]+@/gi, `$1${REDACTED}@`],
  [/\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{8,}/g, `$1$2${REDACTED}`],
  [/\bhooks\.slack\.com\/services\/[^\s'"]+/g, `hooks.slack.com/services/${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b(?:sk-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|xox[bapors]-[A-Za-z0-9-]{8,}|glpat-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16})/g, REDACTED],
];

/** Runs of token characters long enough to be keys; judged by their entropy. */
const TOKEN_RUN = /[A-Za-z0-9_+=-]{24,}/g;
const MIN_ENTROPY_BITS = 3.9;

/** Shannon entropy of text in bits per character. */
export function entropyBits(text: string): number {
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * A random-looking key: digits, lower and upper case mixed, with high entropy. Hex alone (ids, UUIDs,
 * hashes the supervisor prints itself) and single-case text (Hermes's profile names and board slugs
 * are lowercase, so are the paths made of them) are left alone; such secrets are caught by their
 * variable's name.
 */
function looksRandom(token: string): boolean {
  return /[0-9]/.test(token) && /[a-z]/.test(token) && /[A-Z]/.test(token) && !/^[0-9a-fA-F-]+$/.test(token) && entropyBits(token) >= MIN_ENTROPY_BITS;
}

/** Hides every secret-shaped part of text; the rest is kept so the line still says what happened. */
export function redactText(text: string): string {
  let result = text;
  for (const [shape, replacement] of SECRET_SHAPES) result = result.replace(shape, replacement);
  return result.replace(TOKEN_RUN, (token) => (looksRandom(token) ? REDACTED : token));
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || SECRET_NAME_WORD.test(name);
}

/** Hides values whose names look like secrets, and secret-shaped parts of the others. */
export function redactEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, isSecretName(name) ? REDACTED : redactText(value)]));
}

/** A copy of a JSON-like value with every string redacted; maps under an `env` key are redacted by name too. */
export function redactDeep<T>(value: T): T {
  return redactValue(value, undefined) as T;
}

function redactValue(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, undefined));
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (key === 'env') {
    return Object.fromEntries(entries.map(([name, item]) => [name, isSecretName(name) ? REDACTED : redactValue(item, name)]));
  }
  return Object.fromEntries(entries.map(([name, item]) => [name, redactValue(item, name)]));
}

/** Describes a rejected value without echoing it: its type and, for text, its length. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} character${value.length === 1 ? '' : 's'}`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return `a ${typeof value}`;
}

/**
 * Escapes control characters (newline, ESC, DEL, C1) as \n, \x1b, ...: a name from the file system
 * printed in a log line or on a terminal stays on one line and cannot send terminal sequences.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => {
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    if (char === '\t') return '\\t';
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Redacted and escaped: what any message printed to an operator goes through. */
export function safeText(text: string): string {
  return escapeControl(redactText(text));
}
