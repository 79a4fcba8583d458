import { readFileSync } from 'node:fs';

export interface DotenvEntry {
  key: string;
  value: string;
  line: number;
}

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/;

/**
 * The assignments of a `.env` file, read the simple way python-dotenv reads them: `KEY=VALUE` lines,
 * an optional `export `, single or double quotes, `#` comments. Other lines are not assignments.
 */
export function parseDotenv(text: string): DotenvEntry[] {
  const entries: DotenvEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const match = ASSIGNMENT.exec(raw.trim());
    if (match) entries.push({ key: match[1]!, value: unquote(match[2]!), line: index + 1 });
  });
  return entries;
}

function unquote(text: string): string {
  const double = /^"((?:\\.|[^"\\])*)"/.exec(text);
  if (double) return double[1]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
  const single = /^'([^']*)'/.exec(text);
  if (single) return single[1]!;
  // An unquoted value ends at a comment that follows whitespace.
  return text.replace(/\s+#.*$/, '').trim();
}

/** A `.env` file's assignments; null when there is none; the error code when it cannot be read. */
export function readDotenv(file: string): DotenvEntry[] | null | { error: string } {
  try {
    return parseDotenv(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? null : { error: code ?? String(err) };
  }
}
