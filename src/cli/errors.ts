import { ConfigError } from '../config/index.js';
import { ControlError } from '../control/index.js';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The request itself is wrong (an unknown name, a bad argument): exit 2, like a config error. */
export class UsageError extends Error {}

/** Refusals by the supervisor that mean the request or the config was wrong, not that something failed. */
const USAGE_ERROR_CODES = new Set(['bad_request', 'unknown_profile', 'unknown_board', 'reload_rejected', 'no_init_command']);

export function exitCodeOf(err: unknown): number {
  if (err instanceof ConfigError || err instanceof UsageError) return EXIT_USAGE;
  if (err instanceof ControlError && USAGE_ERROR_CODES.has(err.code)) return EXIT_USAGE;
  return EXIT_FAILED;
}
