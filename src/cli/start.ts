import { AlreadyRunningError } from '../control/index.js';
import { Supervisor } from '../daemon/index.js';
import { BoundedPrinter, signalGroup } from '../fleet/index.js';
import { buildPlan } from '../plan/index.js';
import { notifyReady, notifyStatus, notifyStopping } from '../systemd/index.js';
import { loadCheckedConfig } from './validate.js';

/**
 * Runs the supervisor in the foreground until SIGTERM or SIGINT (a second one kills the gateways at
 * once); SIGHUP reloads every config.
 */
export async function startCommand(options: { config?: string }): Promise<number> {
  const plan = buildPlan(loadCheckedConfig(options.config));
  for (const warning of plan.warnings) process.stderr.write(`hermes-supervisor: warning: ${warning}\n`);
  const supervisor = new Supervisor(plan, { print: new BoundedPrinter(process.stdout).print });
  // A bug in one callback must not end the supervisor with its gateways orphaned: report and go on.
  process.on('unhandledRejection', (reason) => {
    supervisor.events.emit('supervisor.error', { during: 'an asynchronous task', error: reason instanceof Error ? reason.message : String(reason) });
  });
  process.on('uncaughtException', (err) => {
    supervisor.events.emit('supervisor.error', { during: 'a callback', error: err.message, stack: err.stack?.split('\n').slice(0, 4).join(' | ') });
  });

  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        void notifyStopping();
        supervisor.shutdown(supervisor.shutdownRequestedBy ?? signal).then(resolve, resolve);
      } else {
        for (const gateway of supervisor.fleet.gateways.values()) if (gateway.pid) signalGroup(gateway.pid, 'SIGKILL');
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.on('SIGHUP', () => {
    supervisor.reload().catch(() => undefined);
  });
  // Signal handlers do not keep Node's event loop alive; a fleet of failed gateways must not end the supervisor.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    await supervisor.start();
  } catch (err) {
    clearInterval(keepAlive);
    if (err instanceof AlreadyRunningError) {
      process.stderr.write(`hermes-supervisor: another supervisor (pid ${err.pid ?? 'unknown'}) is already running with state dir ${plan.config.state_dir} (socket ${err.socketPath})\n`);
      return 1;
    }
    await supervisor.shutdown('start failed');
    throw err;
  }
  if (!supervisor.shuttingDown) {
    void notifyReady();
    void notifyStatus(`${supervisor.fleet.gateways.size} gateways`);
  }
  await stopped;
  clearInterval(keepAlive);
  // Every gateway is stopped: nothing left behind (a stuck watcher, a stray timer) may keep us running.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}
