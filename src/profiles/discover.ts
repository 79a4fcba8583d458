import { lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { isValidProfileName } from '../hermes/index.js';

export interface ProfileLocation {
  name: string;
  /** The profile's folder: HERMES_HOME for its gateway. */
  home: string;
  /** Its config.yaml. */
  config: string;
}

export interface Discovery {
  profiles: ProfileLocation[];
  /** Folders that are not usable profiles, with the reason; their names never reach a path or a command. */
  skipped: Array<{ entry: string; reason: string }>;
  /** Folders that look like profiles but whose names Hermes refuses: errors, or they would silently never run. */
  invalid: Array<{ entry: string; reason: string }>;
}

/** Hermes's rule for a profile name, as a message. */
export const PROFILE_NAME_RULE = 'lowercase letters, digits, "-" and "_"; at most 64; not starting with "-" or "_"';

/**
 * Finds profiles the way Hermes lays them out: `default` is `<hermes_home>/config.yaml` when present;
 * named ones are `<profiles_dir>/<name>/config.yaml`.
 */
export function discoverProfiles(hermesHome: string, profilesDir: string): Discovery {
  const profiles: ProfileLocation[] = [];
  const skipped: Discovery['skipped'] = [];
  const invalid: Discovery['invalid'] = [];
  const defaultConfig = path.join(hermesHome, 'config.yaml');
  if (isPresent(defaultConfig)) profiles.push({ name: 'default', home: hermesHome, config: defaultConfig });

  let entries: string[];
  try {
    entries = readdirSync(profilesDir).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { profiles, skipped, invalid };
    skipped.push({ entry: profilesDir, reason: `cannot read profiles folder: ${code ?? String(err)}` });
    return { profiles, skipped, invalid };
  }
  for (const entry of entries) {
    const home = path.join(profilesDir, entry);
    if (!isDirectory(home)) continue;
    if (!isValidProfileName(entry)) {
      // One with a config.yaml is a profile meant to run, under a name Hermes refuses; a hidden folder never is.
      if (!entry.startsWith('.') && isPresent(path.join(home, 'config.yaml'))) {
        invalid.push({ entry: home, reason: `folder name "${entry}" is not a valid Hermes profile name (${PROFILE_NAME_RULE}); rename the folder` });
      } else {
        skipped.push({ entry: home, reason: `not a valid profile name (${PROFILE_NAME_RULE})` });
      }
      continue;
    }
    if (entry === 'default') {
      skipped.push({ entry: home, reason: 'the name "default" is reserved for <hermes_home>/config.yaml' });
      continue;
    }
    const config = path.join(home, 'config.yaml');
    if (!isPresent(config)) {
      skipped.push({ entry: home, reason: 'no config.yaml' });
      continue;
    }
    profiles.push({ name: entry, home, config });
  }
  return { profiles, skipped, invalid };
}

/** Whether a config file is there at all: a dangling symlink is, and fails to read with its own error. */
function isPresent(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(target: string): boolean {
  try {
    return statSync(target).isDirectory();
  } catch {
    return false;
  }
}
