import os from 'node:os';
import path from 'node:path';
import { resolvePath } from '../util/index.js';
import { ConfigError } from './issues.js';
import { locateConfig } from './locate.js';
import { supervisorSchema, type RawSupervisorConfig } from './schema.js';
import { loadYamlFile } from './yamlSchema.js';

export interface BoardSpec {
  slug: string;
  path: string;
}

/** A validated supervisor config with every path absolute and every duration in milliseconds. */
export type SupervisorConfig = Omit<RawSupervisorConfig, 'gateway' | 'kanban' | 'control'> & {
  file: string;
  dir: string;
  hermes_home: string;
  profiles_dir: string;
  state_dir: string;
  gateway: RawSupervisorConfig['gateway'] & { cwd: string };
  kanban: Omit<RawSupervisorConfig['kanban'], 'boards'> & { boards: 'auto' | BoardSpec[] };
  control: { socket: string };
};

export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SupervisorConfig {
  const file = locateConfig(explicit, env, cwd);
  const parsed = loadYamlFile(file, supervisorSchema);
  if (!parsed.ok) throw new ConfigError(parsed.issues);
  return resolveConfig(file, parsed.value, env);
}

function resolveConfig(file: string, raw: RawSupervisorConfig, env: NodeJS.ProcessEnv): SupervisorConfig {
  const dir = path.dirname(file);
  const at = (value: string) => resolvePath(value, dir);
  const hermesHome = at(raw.hermes_home ?? env.HERMES_HOME ?? path.join(os.homedir(), '.hermes'));
  const stateDir = at(raw.state_dir ?? path.join(hermesHome, 'supervisor'));
  const boards = raw.kanban.boards === 'auto' ? 'auto' : raw.kanban.boards.map((board) => ({ slug: board.slug, path: at(board.path) }));
  if (boards !== 'auto') {
    const seen = new Set<string>();
    boards.forEach((board, index) => {
      if (seen.has(board.slug)) {
        throw new ConfigError([{ file, key: `kanban.boards[${index}].slug`, message: `duplicate board slug "${board.slug}"` }]);
      }
      seen.add(board.slug);
    });
  }
  return {
    ...raw,
    file,
    dir,
    hermes_home: hermesHome,
    profiles_dir: at(raw.profiles_dir ?? path.join(hermesHome, 'profiles')),
    state_dir: stateDir,
    gateway: { ...raw.gateway, cwd: at(raw.gateway.cwd ?? '.') },
    kanban: { ...raw.kanban, boards },
    control: { socket: at(raw.control.socket ?? path.join(stateDir, 'supervisor.sock')) },
  };
}
