import { loadYamlFile, parseYamlText, type Parsed } from '../config/index.js';
import type { ProfileLocation } from './discover.js';
import { profileSchema, type ProfileSettings } from './schema.js';

export interface Profile extends ProfileLocation {
  settings: ProfileSettings;
}

/** A profile's settings; one without config.yaml has the defaults (no kanban keys: denied). */
export function readProfile(location: ProfileLocation): Parsed<Profile> {
  const parsed = location.hasConfig ? loadYamlFile(location.config, profileSchema) : parseYamlText(location.config, '', profileSchema);
  return parsed.ok ? { ok: true, value: { ...location, settings: parsed.value } } : parsed;
}
