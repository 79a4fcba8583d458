import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { readEventFile, type Events } from './events.js';
import type { Scope } from './scope.js';
import { tempDir } from './tempDir.js';

export interface FleetDir {
  root: string;
  hermesHome: string;
  stateDir: string;
  configFile: string;
  /** Writes (or replaces) a profile's config.yaml. */
  profile(name: string, config: unknown): string;
  /** Writes the supervisor config; `hermes_home` and `state_dir` default to this fleet's folders. */
  config(config: Record<string, unknown>): string;
  /** Writes a script into the fleet folder and returns its path. */
  script(name: string, text: string): string;
  /** The supervisor's event log (the live file), oldest first. */
  events(): Events;
}

/** Whether a command runs the Hermes-like fixture, which writes gateway_state.json as Hermes does. */
export const writesStateFile = (command: unknown): boolean => Array.isArray(command) && command.some((arg) => String(arg).includes('hermes_gateway.py'));

/**
 * A gateway command that is not the fixture writes no state file: such a config says
 * `ready_from: timer`, as an operator's would, unless the test chose otherwise.
 */
function withReadyFrom(config: Record<string, unknown>): Record<string, unknown> {
  const gateway = config.gateway as { command?: unknown } | undefined;
  const restart = (config.restart ?? {}) as Record<string, unknown>;
  if (gateway?.command === undefined || writesStateFile(gateway.command) || 'ready_from' in restart) return config;
  return { ...config, restart: { ...restart, ready_from: 'timer' } };
}

/** A throw-away Hermes home with profiles and a supervisor config, removed after the test. */
export function makeFleetDir(t: Scope, prefix = 'hs-'): FleetDir {
  const root = tempDir(t, prefix);
  const hermesHome = path.join(root, 'hermes');
  const stateDir = path.join(root, 'state');
  mkdirSync(path.join(hermesHome, 'profiles'), { recursive: true });
  const configFile = path.join(root, 'supervisor.yaml');
  return {
    root,
    hermesHome,
    stateDir,
    configFile,
    profile(name, config) {
      const dir = name === 'default' ? hermesHome : path.join(hermesHome, 'profiles', name);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, typeof config === 'string' ? config : stringify(config));
      return file;
    },
    config(config) {
      writeFileSync(configFile, stringify({ hermes_home: hermesHome, state_dir: stateDir, ...withReadyFrom(config) }));
      return configFile;
    },
    script(name, text) {
      const file = path.join(root, name);
      writeFileSync(file, text, { mode: 0o755 });
      return file;
    },
    events: () => readEventFile(path.join(stateDir, 'events.jsonl')),
  };
}
