import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from '../config/index.js';
import { DEFAULT_MANAGED_DIR, DOTENV_FILE, ENV, KANBAN_ENV_PREFIX, MANAGED_DIR_ENV } from '../hermes/index.js';
import { readDotenv, type DotenvEntry } from './dotenv.js';

/** What the check needs of a planned gateway. */
export interface EnvTarget {
  name: string;
  home: string;
  grant: boolean;
  /** `service` for a service (the dashboard), named so in messages; a profile's gateway otherwise. */
  role?: string;
  /** The variables the supervisor sets for it. */
  env: Record<string, string>;
}

/** Tunes how long a connection waits for a lock: it steers no board and no switch. */
const HARMLESS_KANBAN_KEYS: ReadonlySet<string> = new Set(['HERMES_KANBAN_BUSY_TIMEOUT_MS']);

/** Variables that decide which board a gateway reaches and what it runs there: the grant's. */
export function isGrantKey(key: string): boolean {
  return key === ENV.home || (key.startsWith(KANBAN_ENV_PREFIX) && !HARMLESS_KANBAN_KEYS.has(key));
}

/**
 * Hermes loads `.env` with override, so a grant variable there beats the supervisor's: allowed only
 * when it says what the supervisor says. Values are never put in a message (they may be secrets).
 */
export function envBypassIssues(file: string, entries: DotenvEntry[], targets: EnvTarget[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const entry of entries) {
    if (!isGrantKey(entry.key)) continue;
    const overridden = targets.filter((target) => target.env[entry.key] !== entry.value);
    if (overridden.length === 0) continue;
    const whom = overridden.map((target) => `${target.role === 'service' ? 'service' : 'profile'} "${target.name}" (${target.grant ? 'granted' : 'denied'})`).join(', ');
    const unset = overridden.every((target) => target.env[entry.key] === undefined);
    const why = unset ? `the supervisor never sets ${entry.key} (it would pick a board outside the grant)` : 'its value differs from what the supervisor sets';
    issues.push({
      file,
      line: entry.line,
      key: entry.key,
      message: `Hermes loads this file over the supervisor's environment (override) and ${why}, so it would bypass the kanban grant of ${whom}; expected no ${entry.key} here${unset ? '' : ', or the value the supervisor sets'}`,
    });
  }
  return issues;
}

/** Hermes's managed machine-wide `.env`: under `$HERMES_MANAGED_DIR` when that folder exists, else /etc/hermes. */
export function managedDotenv(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env[MANAGED_DIR_ENV];
  const dir = configured && existsSync(configured) ? configured : DEFAULT_MANAGED_DIR;
  return path.join(dir, DOTENV_FILE);
}

/** Every `.env` Hermes would load for these gateways and services (each one's own, then the managed one for all), checked. */
export function dotenvIssues(targets: EnvTarget[], env: NodeJS.ProcessEnv = process.env): ConfigIssue[] {
  const check = (file: string, affected: EnvTarget[]): ConfigIssue[] => {
    const entries = readDotenv(file);
    if (entries === null) return [];
    if ('error' in entries) return [{ file, message: `cannot read: ${entries.error}; Hermes loads it over the supervisor's environment, so it must be checked` }];
    return envBypassIssues(file, entries, affected);
  };
  // One home may serve several (the default profile and the services run in the Hermes root): one check each file.
  const byHome = new Map<string, EnvTarget[]>();
  for (const target of targets) byHome.set(target.home, [...(byHome.get(target.home) ?? []), target]);
  return [...[...byHome].flatMap(([home, sharing]) => check(path.join(home, DOTENV_FILE), sharing)), ...(targets.length > 0 ? check(managedDotenv(env), targets) : [])];
}
