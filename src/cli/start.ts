import { loadConfig } from '../config/index.js';
import { Supervisor } from '../daemon/index.js';
import { buildPlan } from '../plan/index.js';

/** Runs the supervisor in the foreground until SIGTERM or SIGINT; a second signal kills gateways at once. */
export async function startCommand(options: { config?: string }): Promise<number> {
  const plan = buildPlan(loadConfig(options.config));
  for (const warning of plan.warnings) process.stderr.write(`hermes-supervisor: warning: ${warning}\n`);
  const supervisor = new Supervisor(plan, { print: (line) => process.stdout.write(`${line}\n`) });

  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        supervisor.shutdown(signal).then(resolve, resolve);
      } else {
        for (const gateway of supervisor.fleet.gateways.values()) if (gateway.pid) process.kill(-gateway.pid, 'SIGKILL');
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // Signal handlers do not keep Node's event loop alive; a fleet of failed gateways must not end the supervisor.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await supervisor.start();
  await stopped;
  clearInterval(keepAlive);
  return 0;
}
