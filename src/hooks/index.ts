export { runHook, HOOK_OUTPUT_LIMIT, type RunHookOptions, type HookResult } from './run.js';
export { hookEnv, hookProcessEnv, HOOK_NAMES, HOOK_ENV_PREFIX, type HookName, type HookContext } from './env.js';
