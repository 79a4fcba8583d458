import { AlreadyRunningError } from '../control/index.js';
import { commandHandlers, Supervisor } from '../daemon/index.js';
import { consoleLine, wrap } from '../events/index.js';
import { BoundedPrinter, type Echo } from '../fleet/index.js';
import { signalGroup } from '../proc/index.js';
import { buildPlan } from '../plan/index.js';
import { notifyReady, notifyStatus, notifyStopping } from '../systemd/index.js';
import { loadCheckedConfig } from './validate.js';

/** Longer profile names push their own lines' text right rather than every line's. */
const MAX_SOURCE_WIDTH = 16;

/**
 * Prints gateway output and event summaries in one aligned column; on a terminal with the time,
 * colours (unless NO_COLOR is set) and wrapped at its width. Best effort: a stalled reader gets lines
 * dropped (and counted), never an unbounded buffer; the log files stay complete.
 */
function consolePrinter(profiles: string[]): Echo {
  const printer = new BoundedPrinter(process.stdout);
  const tty = process.stdout.isTTY === true;
  const color = tty && !process.env.NO_COLOR && process.stdout.hasColors();
  const sourceWidth = Math.min(MAX_SOURCE_WIDTH, Math.max('supervisor'.length, ...profiles.map((name) => name.length)));
  return (line) => printer.print(consoleLine(line, { sourceWidth, tty, color, columns: process.stdout.columns ?? 100, now: new Date() }));
}

/**
 * Runs the supervisor in the foreground until SIGTERM or SIGINT (a second one kills the gateways at
 * once); SIGHUP reloads every config.
 */
export async function startCommand(options: { config?: string }): Promise<number> {
  const plan = buildPlan(loadCheckedConfig(options.config));
  for (const warning of plan.warnings) {
    const line = `hermes-supervisor: warning: ${warning}`;
    process.stderr.write(`${process.stderr.isTTY ? wrap(line, process.stderr.columns ?? 100).join('\n') : line}\n`);
  }
  const supervisor = new Supervisor(plan, { print: consolePrinter(plan.profiles.map((profile) => profile.name)), commands: commandHandlers });
  // A bug in one callback must not end the supervisor with its gateways orphaned: report and go on.
  process.on('unhandledRejection', (reason) => {
    supervisor.events.emit('supervisor.error', { during: 'an asynchronous task', error: reason instanceof Error ? reason.message : String(reason) });
  });
  process.on('uncaughtException', (err) => {
    supervisor.events.emit('supervisor.error', { during: 'a callback', error: err.message, stack: err.stack?.split('\n').slice(0, 4).join(' | ') });
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) void supervisor.shutdown(signal);
    else for (const gateway of supervisor.fleet.gateways.values()) if (gateway.pid) signalGroup(gateway.pid, 'SIGKILL');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A signal or the `shutdown` command: systemd hears of it either way.
  supervisor.events.subscribe((event) => {
    if (event.type === 'supervisor.stopping') void notifyStopping();
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
    } else {
      await supervisor.shutdown('start failed');
      process.stderr.write(`hermes-supervisor: ${(err as Error).message}\n`);
    }
    // Whatever the failed start left open (a half-set-up socket, a watcher) must not keep the process
    // alive, and a signal would find nothing left to stop: exit now.
    process.exit(1);
  }
  if (!supervisor.shuttingDown) {
    void notifyReady();
    void notifyStatus(`${supervisor.fleet.gateways.size} gateways`);
  }
  await supervisor.stopped;
  clearInterval(keepAlive);
  // Every gateway is stopped: nothing left behind (a stuck watcher, a stray timer) may keep us running.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}
