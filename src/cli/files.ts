import path from 'node:path';
import { loadConfig } from '../config/index.js';
import { ConfigError } from '../config/index.js';
import { isValidProfileName } from '../hermes/index.js';

/** Gateway logs and the event log are plain files in the state dir: read them without the supervisor. */
export function logFile(configFile: string | undefined, profile: string): string {
  const config = loadConfig(configFile);
  if (!isValidProfileName(profile)) {
    throw new ConfigError([{ file: config.file, message: `"${profile}" is not a valid profile name` }]);
  }
  return path.join(config.state_dir, 'logs', `${profile}.log`);
}

export function eventsFile(configFile: string | undefined): string {
  return path.join(loadConfig(configFile).state_dir, 'events.jsonl');
}
