import { existsSync } from 'node:fs';
import { loadConfig, locateRuntime } from '../config/index.js';
import { isValidProfileName } from '../hermes/index.js';
import { discoverProfiles } from '../profiles/index.js';
import { eventsFile as eventsFileIn, logFile as logFileIn } from '../statedir/index.js';
import { UsageError } from './errors.js';

/** The config's profiles, or null when the config cannot be read well enough to tell. */
function knownProfiles(configFile: string | undefined): string[] | null {
  try {
    const config = loadConfig(configFile);
    return discoverProfiles(config.hermes_home, config.profiles_dir).profiles.map((profile) => profile.name);
  } catch {
    return null;
  }
}

/**
 * Gateway logs and the event log are plain files in the state dir: read them without the supervisor,
 * and without needing the rest of the config to be valid.
 */
export function logFile(configFile: string | undefined, profile: string): string {
  const paths = locateRuntime(configFile);
  const known = knownProfiles(configFile);
  const list = known === null ? '' : ` (profiles: ${known.join(', ') || 'none'})`;
  if (!isValidProfileName(profile)) throw new UsageError(`"${profile}" is not a valid profile name${list}`);
  const file = logFileIn(paths.state_dir, profile);
  if (existsSync(file)) return file;
  if (known !== null && !known.includes(profile)) throw new UsageError(`unknown profile: ${profile}${list}`);
  throw new Error(`no log for profile "${profile}" at ${file} (has it ever run under this supervisor?)`);
}

export function eventsFile(configFile: string | undefined): string {
  return eventsFileIn(locateRuntime(configFile).state_dir);
}
