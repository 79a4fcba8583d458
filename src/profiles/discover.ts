import { lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { isValidProfileName, PROFILE_TOMBSTONES_DIR, RESERVED_PROFILE_NAMES } from '../hermes/index.js';
import { profileTrustProblem } from '../trust/index.js';
import { escapeControl } from '../util/index.js';

export interface ProfileLocation {
  name: string;
  /** The profile's folder: HERMES_HOME for its gateway. */
  home: string;
  /** Its config.yaml (which need not exist). */
  config: string;
  /** Whether config.yaml is there: Hermes runs a profile without one on its defaults. */
  hasConfig: boolean;
}

export interface Discovery {
  profiles: ProfileLocation[];
  /** Folders that are not usable profiles, with the reason; their names never reach a path or a command. */
  skipped: Array<{ entry: string; reason: string }>;
  /** Folders that look like profiles but whose names Hermes refuses: errors, or they would silently never run. */
  invalid: Array<{ entry: string; reason: string }>;
  /** Profiles whose folder or config.yaml others could change: never read, never run. */
  untrusted: Array<{ name: string; config: string; problem: string }>;
}

/** Hermes's rule for a profile name, as a message. */
export const PROFILE_NAME_RULE = 'lowercase letters, digits, "-" and "_"; at most 64; not starting with "-" or "_"';

const RESERVED_RULE = `Hermes reserves ${[...RESERVED_PROFILE_NAMES].join(', ')} and its -p refuses them, so the gateway would exit at every start`;

/**
 * Finds profiles the way Hermes lays them out: `default` is `<hermes_home>` when its config.yaml is
 * present (or always, with `alwaysDefault`); every other folder under `<hermes_home>/profiles` with a valid name is one, config.yaml or
 * not, unless Hermes marked it deleted (`profiles/.deleted/<name>`).
 */
export function discoverProfiles(hermesHome: string, profilesDir: string, options: { alwaysDefault?: boolean } = {}): Discovery {
  const profiles: ProfileLocation[] = [];
  const skipped: Discovery['skipped'] = [];
  const invalid: Discovery['invalid'] = [];
  const untrusted: Discovery['untrusted'] = [];
  const found = (location: ProfileLocation) => {
    const problem = profileTrustProblem(location.home, location.config);
    if (problem === null) profiles.push(location);
    else untrusted.push({ name: location.name, config: location.hasConfig ? location.config : location.home, problem });
  };
  const defaultConfig = path.join(hermesHome, 'config.yaml');
  const defaultHasConfig = isPresent(defaultConfig);
  // The host gateway is the default profile's, which Hermes runs without a config.yaml too.
  if (defaultHasConfig || options.alwaysDefault === true) found({ name: 'default', home: hermesHome, config: defaultConfig, hasConfig: defaultHasConfig });

  let entries: string[];
  try {
    entries = readdirSync(profilesDir).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { profiles, skipped, invalid, untrusted };
    skipped.push({ entry: escapeControl(profilesDir), reason: `cannot read profiles folder: ${code ?? String(err)}` });
    return { profiles, skipped, invalid, untrusted };
  }
  for (const entry of entries) {
    const home = path.join(profilesDir, entry);
    // Hidden folders (the tombstones' among them) are Hermes's bookkeeping, never profiles.
    if (entry.startsWith('.') || !isDirectory(home)) continue;
    // A folder name is anything the file system allows, newlines and escape sequences included.
    const shown = escapeControl(home);
    const config = path.join(home, 'config.yaml');
    const hasConfig = isPresent(config);
    if (!isValidProfileName(entry)) {
      // One with a config.yaml is a profile meant to run, under a name Hermes refuses.
      if (hasConfig) invalid.push({ entry: shown, reason: `folder name "${escapeControl(entry)}" is not a valid Hermes profile name (${PROFILE_NAME_RULE}); rename the folder` });
      else skipped.push({ entry: shown, reason: `not a valid profile name (${PROFILE_NAME_RULE})` });
      continue;
    }
    const tombstone = path.join(profilesDir, PROFILE_TOMBSTONES_DIR, entry);
    if (isPresent(tombstone)) {
      skipped.push({ entry: shown, reason: `deleted in Hermes (tombstone ${escapeControl(tombstone)}); not run` });
      continue;
    }
    if (RESERVED_PROFILE_NAMES.has(entry)) {
      invalid.push({ entry: shown, reason: `profile name "${entry}" is reserved (${RESERVED_RULE}); rename or remove the folder` });
      continue;
    }
    found({ name: entry, home, config, hasConfig });
  }
  return { profiles, skipped, invalid, untrusted };
}

/** Whether a file is there at all: a dangling symlink is, and fails to read with its own error. */
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
