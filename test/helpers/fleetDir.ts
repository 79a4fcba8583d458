import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { stringify } from 'yaml';

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
  events(): Array<Record<string, unknown>>;
}

/** A throw-away Hermes home with profiles and a supervisor config, removed after the test. */
export function makeFleetDir(t: ExecutionContext, prefix = 'hs-'): FleetDir {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const hermesHome = path.join(root, 'hermes');
  const stateDir = path.join(root, 'state');
  mkdirSync(path.join(hermesHome, 'profiles'), { recursive: true });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
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
    events() {
      const file = path.join(stateDir, 'events.jsonl');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}
