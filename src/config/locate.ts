import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './issues.js';

export const CONFIG_ENV = 'HERMES_SUPERVISOR_CONFIG';

/** Candidate config files, highest precedence first: --config, $HERMES_SUPERVISOR_CONFIG, ./supervisor/, ~/.hermes/. */
export function configCandidates(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Array<{ file: string; from: string }> {
  if (explicit) return [{ file: path.resolve(cwd, explicit), from: '--config' }];
  if (env[CONFIG_ENV]) return [{ file: path.resolve(cwd, env[CONFIG_ENV]), from: CONFIG_ENV }];
  return [
    { file: path.join(cwd, 'supervisor', 'supervisor.yaml'), from: './supervisor/supervisor.yaml' },
    { file: path.join(os.homedir(), '.hermes', 'supervisor.yaml'), from: '~/.hermes/supervisor.yaml' },
  ];
}

/** The config file to use; an explicitly named file must exist. */
export function locateConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const candidates = configCandidates(explicit, env, cwd);
  const found = candidates.find((candidate) => existsSync(candidate.file));
  if (found) return found.file;
  const first = candidates[0]!;
  if (candidates.length === 1) {
    throw new ConfigError([{ file: first.file, message: `config file not found (from ${first.from})` }]);
  }
  throw new ConfigError([
    { file: candidates.map((c) => c.file).join(', '), message: 'no config file found; pass --config FILE or set HERMES_SUPERVISOR_CONFIG' },
  ]);
}
