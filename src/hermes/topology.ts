/**
 * Hermes 0.21's gateway topology: one multiplexing gateway per host serves every profile
 * (`gateway/multiplex_mode.py`, `gateway/profile_serving.py`); a named profile gets a gateway of its
 * own only with `gateway.standalone: true` in its config.yaml or `--force` on its command.
 */

/** The key in a profile's config.yaml that keeps it out of the host gateway. */
export const STANDALONE_KEY = 'gateway.standalone';

/** Hermes's own words on the shim (`STANDALONE_DEPRECATION_NOTICE`). */
export const STANDALONE_DEPRECATION_NOTICE =
  'gateway.standalone is a temporary compatibility shim while multiplexing gaps are fixed; it will be removed once they are — plan to fold this profile with `hermes gateway migrate --multiplex`';

/** Where Hermes parks a named profile: the host gateway then leaves it unserved. */
export const PARKED_MARKER = 'gateway.parked';

const TRUTHY = new Set(['1', 'true', 'yes', 'on']);

/** Hermes's `is_truthy_value`: true, a non-zero number, or "1"/"true"/"yes"/"on" in any case. */
export function isTruthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  return typeof value === 'string' && TRUTHY.has(value.trim().toLowerCase());
}

/** `gateway.standalone` of a parsed profile config, read as Hermes reads it: anything else is false. */
export function readStandalone(gateway: unknown): boolean {
  return typeof gateway === 'object' && gateway !== null && isTruthy((gateway as Record<string, unknown>).standalone);
}

/**
 * The profile names a `gateway_state.json` says its gateway serves (`served_profiles`, multiplex mode
 * only): names, or `{profile_id, home}` records. Null when the file says nothing of it.
 */
export function servedProfileNames(value: unknown): string[] | null {
  if (!Array.isArray(value)) return null;
  const names: string[] = [];
  for (const entry of value) {
    const id: unknown = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).profile_id : entry;
    if (typeof id === 'string') names.push(id);
  }
  return names;
}
