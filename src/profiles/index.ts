export { discoverProfiles, PROFILE_NAME_RULE, type Discovery, type ProfileLocation } from './discover.js';
export { readProfile, type Profile } from './read.js';
export { profileSchema, type ProfileSettings } from './schema.js';
