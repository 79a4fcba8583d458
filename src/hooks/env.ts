export const HOOK_NAMES = ['pre_restart', 'post_restart', 'on_swap', 'on_corruption', 'on_give_up', 'on_violation'] as const;

export type HookName = (typeof HOOK_NAMES)[number];

/** What a hook is about; each field that applies becomes one HERMES_SUPERVISOR_* variable. */
export interface HookContext {
  profile?: string;
  reason?: string;
  board?: string;
  generation?: number;
  pid?: number;
}

export const HOOK_ENV_PREFIX = 'HERMES_SUPERVISOR_';

/** The variables a hook gets on top of the supervisor's environment. */
export function hookEnv(name: HookName, context: HookContext): Record<string, string> {
  const env: Record<string, string> = { [`${HOOK_ENV_PREFIX}EVENT`]: name };
  const fields: Array<[string, string | number | undefined]> = [
    ['PROFILE', context.profile],
    ['REASON', context.reason],
    ['BOARD', context.board],
    ['GENERATION', context.generation],
    ['PID', context.pid],
  ];
  for (const [key, value] of fields) {
    if (value !== undefined) env[`${HOOK_ENV_PREFIX}${key}`] = String(value);
  }
  return env;
}

/**
 * The hook's whole environment: the supervisor's own, minus any HERMES_SUPERVISOR_* it inherited
 * (a variable that does not apply to this hook must be absent, not stale), plus hookEnv.
 */
export function hookProcessEnv(base: NodeJS.ProcessEnv, name: HookName, context: HookContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined && !key.startsWith(HOOK_ENV_PREFIX)) env[key] = value;
  }
  return { ...env, ...hookEnv(name, context) };
}
