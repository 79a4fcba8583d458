import path from 'node:path';

/**
 * What Hermes gives its own gateway to stop: the systemd `TimeoutStopSec` it computes on its defaults
 * (`resolve_systemd_timeout_stop_sec`: drain 0, cron drain 30 s → 70 s). A shorter stop_timeout may
 * SIGKILL a gateway in the middle of its drain.
 */
export const HERMES_STOP_BUDGET_MS = 70_000;

/** `hermes … gateway run …`: Hermes's gateway command, however it is wrapped (`uv run hermes -p x gateway run`). */
export function isHermesGatewayCommand(command: readonly string[]): boolean {
  const program = command.findIndex((arg) => path.basename(arg) === 'hermes');
  if (program < 0) return false;
  const rest = command.slice(program + 1);
  return rest.some((arg, index) => arg === 'gateway' && rest[index + 1] === 'run');
}

/** The warning for a stop_timeout below what Hermes's gateways need, naming them; null when none is short of it. */
export function stopBudgetWarning(stopTimeoutMs: number, profiles: ReadonlyArray<{ name: string; enabled: boolean; command: readonly string[] }>): string | null {
  if (stopTimeoutMs >= HERMES_STOP_BUDGET_MS) return null;
  const hermes = profiles.filter((profile) => profile.enabled && isHermesGatewayCommand(profile.command)).map((profile) => profile.name);
  if (hermes.length === 0) return null;
  return (
    `restart.stop_timeout is ${stopTimeoutMs / 1000}s, below the ${HERMES_STOP_BUDGET_MS / 1000}s Hermes gives its own gateway to drain and stop ` +
    `(its unit's TimeoutStopSec); ${hermes.join(', ')} may be killed mid-drain: set restart.stop_timeout to 75s or more`
  );
}
