import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './issues.js';

export const CONFIG_ENV = 'HERMES_SUPERVISOR_CONFIG';

export interface ConfigCandidate {
  file: string;
  from: string;
  /** The repository's demo config: used only when nothing else exists, and never silently. */
  demo?: true;
}

/**
 * Candidate config files, highest precedence first: --config, $HERMES_SUPERVISOR_CONFIG, the host's
 * own (`$HERMES_HOME/supervisor.yaml`, else `~/.hermes/supervisor.yaml`), and last the demo config of a
 * clone (`./supervisor/supervisor.yaml`), so running inside the clone never shadows the host's config.
 */
export function configCandidates(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): ConfigCandidate[] {
  if (explicit) return [{ file: path.resolve(cwd, explicit), from: '--config' }];
  if (env[CONFIG_ENV]) return [{ file: path.resolve(cwd, env[CONFIG_ENV]), from: CONFIG_ENV }];
  const host = env.HERMES_HOME
    ? { file: path.join(path.resolve(cwd, env.HERMES_HOME), 'supervisor.yaml'), from: '$HERMES_HOME/supervisor.yaml' }
    : { file: path.join(os.homedir(), '.hermes', 'supervisor.yaml'), from: '~/.hermes/supervisor.yaml' };
  return [host, { file: path.join(cwd, 'supervisor', 'supervisor.yaml'), from: './supervisor/supervisor.yaml', demo: true }];
}

let demoWarned = false;

/** Says once per process, on stderr, that the demo config stands in for a host config. */
function warnDemoOnce(file: string): void {
  if (demoWarned) return;
  demoWarned = true;
  process.stderr.write(`hermes-supervisor: warning: no host config found, using the demo config ${file} (pass --config FILE for a real host)\n`);
}

/** The config file to use; an explicitly named file must exist. */
export function locateConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  warnDemo: (file: string) => void = warnDemoOnce,
): string {
  const candidates = configCandidates(explicit, env, cwd);
  const found = candidates.find((candidate) => existsSync(candidate.file));
  if (found) {
    if (found.demo) warnDemo(found.file);
    return found.file;
  }
  const first = candidates[0]!;
  if (candidates.length === 1) {
    throw new ConfigError([{ file: first.file, message: `config file not found (from ${first.from})` }]);
  }
  throw new ConfigError([
    { file: candidates.map((c) => c.file).join(', '), message: 'no config file found; pass --config FILE or set HERMES_SUPERVISOR_CONFIG' },
  ]);
}
