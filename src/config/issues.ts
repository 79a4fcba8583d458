import { byText, safeText } from '../util/index.js';

/** One problem in a config file, reported as a single line naming the file, line and key. */
export interface ConfigIssue {
  file: string;
  line?: number;
  key?: string;
  message: string;
}

/** One line, whatever the file name or message holds: secrets hidden, control characters escaped. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  return safeText(issue.key ? `${where}: ${issue.key}: ${issue.message}` : `${where}: ${issue.message}`);
}

/** Thrown when configuration cannot be used; carries every issue found. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    // In reading order: by file, then by line (problems of a whole file first).
    const sorted = [...issues].sort((a, b) => byText(a.file, b.file) || (a.line ?? 0) - (b.line ?? 0));
    super(sorted.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = sorted;
  }
}

export function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}
