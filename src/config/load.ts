import { readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { defaultSocket, defaultStateDir } from '../statedir/index.js';
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

/** Where a supervisor keeps its state and listens, from the config's own settings or their defaults. */
interface RuntimePaths {
  file: string;
  hermes_home: string;
  state_dir: string;
  socket: string;
}

function runtimePaths(file: string, raw: { hermes_home?: string; state_dir?: string; socket?: string }, env: NodeJS.ProcessEnv): RuntimePaths {
  const at = (value: string) => resolvePath(value, path.dirname(file));
  const hermesHome = at(raw.hermes_home ?? env.HERMES_HOME ?? path.join(os.homedir(), '.hermes'));
  const stateDir = at(raw.state_dir ?? defaultStateDir(hermesHome));
  return { file, hermes_home: hermesHome, state_dir: stateDir, socket: at(raw.socket ?? defaultSocket(stateDir)) };
}

/**
 * The state dir and socket a config names, read leniently: a config with errors elsewhere (or none
 * readable at all) still leads the CLI to the supervisor already running from it.
 */
export function locateRuntime(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): RuntimePaths {
  const file = locateConfig(explicit, env, cwd);
  let raw: unknown = null;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch {
    // Unreadable or not YAML: the defaults still say where a supervisor would be.
  }
  const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);
  const top = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const control = (top.control !== null && typeof top.control === 'object' ? top.control : {}) as Record<string, unknown>;
  return runtimePaths(file, { hermes_home: text(top.hermes_home), state_dir: text(top.state_dir), socket: text(control.socket) }, env);
}

function resolveConfig(file: string, raw: RawSupervisorConfig, env: NodeJS.ProcessEnv): SupervisorConfig {
  const dir = path.dirname(file);
  const at = (value: string) => resolvePath(value, dir);
  const paths = runtimePaths(file, { hermes_home: raw.hermes_home, state_dir: raw.state_dir, socket: raw.control.socket }, env);
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
  const profilesDir = path.join(paths.hermes_home, 'profiles');
  if (raw.profiles_dir !== undefined && !sameFolder(at(raw.profiles_dir), profilesDir)) {
    throw new ConfigError([{
      file,
      key: 'profiles_dir',
      message: `is ${at(raw.profiles_dir)}, but Hermes finds "-p NAME" only under <hermes_home>/profiles; expected ${profilesDir} (or leave profiles_dir out)`,
    }]);
  }
  return {
    ...raw,
    file,
    dir,
    hermes_home: paths.hermes_home,
    profiles_dir: profilesDir,
    state_dir: paths.state_dir,
    gateway: { ...raw.gateway, cwd: at(raw.gateway.cwd ?? '.') },
    kanban: { ...raw.kanban, boards },
    control: { socket: paths.socket },
  };
}

/** Whether two paths name one folder, symlinks followed; a path that does not exist is compared as written. */
function sameFolder(a: string, b: string): boolean {
  const real = (target: string) => {
    try {
      return realpathSync(target);
    } catch {
      return path.resolve(target);
    }
  };
  return real(a) === real(b);
}
