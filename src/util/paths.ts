import os from 'node:os';
import path from 'node:path';

/** Expands a leading `~` and resolves a relative path against `base`. */
export function resolvePath(value: string, base: string): string {
  const expanded = value === '~' || value.startsWith('~/') ? path.join(os.homedir(), value.slice(1)) : value;
  return path.resolve(base, expanded);
}
