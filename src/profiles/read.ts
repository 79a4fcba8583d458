import { loadYamlFile, type Parsed } from '../config/index.js';
import type { ProfileLocation } from './discover.js';
import { profileSchema, type ProfileSettings } from './schema.js';

export interface Profile extends ProfileLocation {
  settings: ProfileSettings;
}

export function readProfile(location: ProfileLocation): Parsed<Profile> {
  const parsed = loadYamlFile(location.config, profileSchema);
  return parsed.ok ? { ok: true, value: { ...location, settings: parsed.value } } : parsed;
}
