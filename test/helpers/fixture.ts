import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fixturesDir } from './paths.js';

/** The real interpreter behind `python3` (a pyenv shim costs ~100 ms a start). */
export const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
/** The Hermes-like gateway (test/fixtures/hermes_gateway.py). */
export const fixture = path.join(fixturesDir, 'hermes_gateway.py');

/** The fixture's arguments for one profile's gateway: its write log is `<logsDir>/<name>.jsonl`, then `extra`. */
export function gatewayArgs(name: string, logsDir: string, extra: string[] = []): string[] {
  return [fixture, '--profile', name, '--log', path.join(logsDir, `${name}.jsonl`), ...extra];
}

/** The fixture's arguments for one profile's gateway in `mode`, its write log in `logsDir`. */
export function fixtureArgs(name: string, mode: string, intervalMs: number, logsDir: string): string[] {
  return gatewayArgs(name, logsDir, ['--mode', mode, '--interval-ms', String(intervalMs)]);
}
