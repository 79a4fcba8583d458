import type { ProfileRole } from '../plan/index.js';

/**
 * The other profiles a gateway serves by its own state file (`served_profiles`): Hermes folded them
 * into it, multiplexing. Null when it serves only itself, or when serving every profile is its job
 * (the host gateway of `topology: host`), or when it is no gateway (a service).
 */
export function foldedProfiles(served: readonly string[] | null, own: string, role: ProfileRole): string[] | null {
  if (served === null || role === 'host' || role === 'service') return null;
  const others = served.filter((name) => name !== own);
  return others.length > 0 ? others : null;
}
