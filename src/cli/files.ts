import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../config/index.js';
import { ConfigError } from '../config/index.js';
import { isValidProfileName } from '../hermes/index.js';

/** Gateway logs and the event log are plain files in the state dir: read them without the supervisor. */
export function logFile(configFile: string | undefined, profile: string): string {
  const config = loadConfig(configFile);
  if (!isValidProfileName(profile)) {
    throw new ConfigError([{ file: config.file, message: `"${profile}" is not a valid profile name` }]);
  }
  return path.join(config.state_dir, 'logs', `${profile}.log`);
}

export function eventsFile(configFile: string | undefined): string {
  return path.join(loadConfig(configFile).state_dir, 'events.jsonl');
}

/** The last `lines` lines of a file, read from its end. */
export function tail(file: string, lines: number): string[] {
  if (!existsSync(file)) return [];
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    let start = size;
    let text = '';
    while (start > 0 && text.split('\n').length <= lines + 1) {
      const length = Math.min(64 * 1024, start);
      start -= length;
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, start);
      text = buffer.toString('utf8') + text;
    }
    return text.split('\n').filter(Boolean).slice(-lines);
  } finally {
    closeSync(fd);
  }
}

/** Prints lines appended to a file from now on, until the signal aborts; a rotated file is followed anew. */
export async function follow(file: string, print: (line: string) => void, signal: AbortSignal): Promise<void> {
  let offset = existsSync(file) ? statSync(file).size : 0;
  let pending = '';
  while (!signal.aborted) {
    await sleep(200, undefined, { signal }).catch(() => undefined);
    if (!existsSync(file)) continue;
    const size = statSync(file).size;
    if (size < offset) offset = 0;
    if (size === offset) continue;
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      offset = size;
      pending += buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line) print(line);
  }
}
