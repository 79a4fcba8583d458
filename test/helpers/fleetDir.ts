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
      writeFileSync(configFile, stringify({ hermes_home: hermesHome, state_dir: stateDir, ...config }));
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
