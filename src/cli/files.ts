import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, locateRuntime } from '../config/index.js';
import { isValidProfileName } from '../hermes/index.js';

/**
 * Gateway logs and the event log are plain files in the state dir: read them without the supervisor,
 * and without needing the rest of the config to be valid.
 */
export function logFile(configFile: string | undefined, profile: string): string {
  const paths = locateRuntime(configFile);
  if (!isValidProfileName(profile)) {
    throw new ConfigError([{ file: paths.file, message: `"${profile}" is not a valid profile name` }]);
  }
  const file = path.join(paths.state_dir, 'logs', `${profile}.log`);
  if (!existsSync(file)) throw new Error(`no log for profile "${profile}" at ${file} (has it ever run under this supervisor?)`);
  return file;
}

export function eventsFile(configFile: string | undefined): string {
  return path.join(locateRuntime(configFile).state_dir, 'events.jsonl');
}
