import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { processStartTime, readProcStat } from '../board/index.js';
import { ConfigError } from '../config/index.js';
import { formatEvent, type SupervisorEvent } from '../events/index.js';
import { EXIT_FAILED, EXIT_USAGE, exitCodeOf, UsageError } from './errors.js';
import { safeText } from '../util/index.js';
import { eventsFile, logFile } from './files.js';
import { showFile } from './tailFile.js';
import { checkFailed, checkText, gatewaysBack, journalModeText, restartText, restoreText, statusText } from './format.js';
import { ask } from './remote.js';
import { startCommand } from './start.js';
import { validateCommand } from './validate.js';

const out = (text: string) => process.stdout.write(`${text}\n`);
const fail = (text: string) => process.stderr.write(`hermes-supervisor: ${safeText(text)}\n`);
const json = (value: unknown) => out(JSON.stringify(value, null, 2));

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return parsed;
}

/** Resolves once the process has exited (a zombie counts as gone; a reused pid is told apart by its start time). */
async function processGone(pid: number): Promise<void> {
  const startTime = processStartTime(pid);
  for (;;) {
    const stat = readProcStat(pid);
    if (stat === null || stat.state === 'Z' || stat.startTime !== startTime) return;
    await sleep(100);
  }
}

/** Prints a file's last lines and, when following, its new lines until Ctrl-C. */
async function showUntilInterrupted(file: string, lines: number, print: (line: string) => void, follow: boolean): Promise<number> {
  if (!follow) {
    await showFile(file, lines, print, null);
    return 0;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await showFile(file, lines, print, controller.signal);
  return 0;
}

/** An event line as a readable line; one that is not JSON (a torn write) is shown as it is. Never a raw control character. */
function readableEvent(line: string): string {
  try {
    return safeText(formatEvent(JSON.parse(line) as SupervisorEvent, true));
  } catch {
    return safeText(line);
  }
}

function program(setResult: (result: Promise<number> | number) => void): Command {
  const root = new Command('hermes-supervisor')
    .description('Supervises a fleet of Hermes gateways, one per profile, and keeps their shared kanban boards safe.')
    // Read at run time, so an installed copy reports the version it was packed as. The bundle
    // (dist/bundle/cli/) sits as deep as this module (dist/src/cli/), so one path serves both.
    .version((JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      `
Examples:
  hermes-supervisor validate --json                 print the fleet plan
  hermes-supervisor start --config ~/.hermes/supervisor.yaml
  hermes-supervisor status                          boards and gateways of the running supervisor
  hermes-supervisor restart worker --reason deploy  one wave, waits until it is done
  hermes-supervisor restart --stale                 every gateway still on a replaced board
  hermes-supervisor restart --all --graceful        drain each gateway (SIGUSR1) rather than stop it
  hermes-supervisor stop research                   stop it and keep it stopped
  hermes-supervisor start research                  resume it
  hermes-supervisor reload                          re-read every config (same as SIGHUP)
  hermes-supervisor check --full                    holder audit and integrity_check now
  hermes-supervisor logs worker -f                  follow a gateway's output
  hermes-supervisor events -f                       follow the event log
  hermes-supervisor kanban init --board default     the safe way to re-init a board
  hermes-supervisor kanban journal-mode default delete   take a board out of WAL, its gateways stopped for it
  hermes-supervisor kanban restore ~/backup/kanban.db   replace a board with a backup, every holder stopped first
  hermes-supervisor shutdown                        stop every gateway and the supervisor

The config is --config FILE, else $HERMES_SUPERVISOR_CONFIG, else $HERMES_HOME/supervisor.yaml
(~/.hermes/supervisor.yaml), else, with a warning, the demo's ./supervisor/supervisor.yaml. Exit codes: 0 ok,
1 failed or unhealthy (or nothing running), 2 bad config or usage (an unknown profile or board, a bad
option, a rejected reload).`,
    );
  const withConfig = (command: Command) => command.option('-c, --config <file>', 'supervisor config file');

  withConfig(root.command('validate'))
    .description('print the fleet plan (profiles, grants, commands, boards) without starting anything')
    .option('--json', 'print the plan as JSON')
    .action((options: { config?: string; json?: boolean }) => setResult(validateCommand(options, out)));

  withConfig(root.command('start'))
    .usage('[options] [PROFILE...]')
    .description("run the supervisor in the foreground: start every profile's gateway and keep it running")
    .addHelpText('after', '\nWith profile names, `start PROFILE...` instead resumes those gateways of the running supervisor (the same as `resume PROFILE...`).')
    .action((options: { config?: string }) => setResult(startCommand(options)));

  withConfig(root.command('status'))
    .description('boards (generation, inode, holders, health) and gateways (state, pid, grant, restarts)')
    .option('--json', 'print the status as JSON')
    .action((options: { config?: string; json?: boolean }) =>
      setResult(
        ask(options.config, 'status', {}).then((status) => {
          if (options.json) json(status);
          else out(statusText(status));
          return 0;
        }),
      ),
    );

  withConfig(root.command('restart'))
    .description('restart gateways in one coordinated wave (max_parallel at a time, each ready before the next)')
    .argument('[profiles...]', 'profiles to restart')
    .option('--all', 'every gateway')
    .option('--stale', 'every gateway holding a replaced board file')
    .option('--reason <text>', 'recorded in the events and given to hooks')
    .option('--no-wait', 'return once the wave is queued')
    .option('--graceful', 'SIGUSR1 instead of a stop: Hermes drains its work, exits 75 and is started again (a stop after restart.stop_timeout)')
    .action((profiles: string[], options: { config?: string; all?: boolean; stale?: boolean; reason?: string; wait: boolean; graceful?: boolean }) =>
      setResult(
        ask(
          options.config,
          'restart',
          { profiles, all: options.all === true, stale: options.stale === true, reason: options.reason, wait: options.wait, graceful: options.graceful === true },
          true,
        ).then(
          (result) => {
            if (!options.wait) {
              out(`queued: ${result.profiles.join(', ') || 'nothing'}`);
              return 0;
            }
            out(restartText(result));
            if (result.wave?.failed.length) {
              fail(`did not come back ready: ${result.wave.failed.join(', ')}`);
              return EXIT_FAILED;
            }
            return 0;
          },
        ),
      ),
    );

  withConfig(root.command('stop'))
    .description('stop gateways and keep them stopped (waves leave them alone) until `start`')
    .argument('<profiles...>')
    .action((profiles: string[], options: { config?: string }) =>
      setResult(
        ask(options.config, 'stop', { profiles }, true).then((result) => {
          out(`stopped: ${result.stopped.join(', ') || 'none'}`);
          if (result.already_stopped.length) out(`already stopped (kept stopped): ${result.already_stopped.join(', ')}`);
          return 0;
        }),
      ),
    );

  withConfig(root.command('start-gateway'))
    .alias('resume')
    .description('start stopped or failed gateways again (same as `start PROFILE...`)')
    .argument('<profiles...>')
    .action((profiles: string[], options: { config?: string }) => setResult(resume(options.config, profiles)));

  withConfig(root.command('shutdown'))
    .description('stop every gateway and the supervisor; waits until the supervisor has exited')
    .option('--no-wait', 'return once the supervisor has begun to stop')
    .action((options: { config?: string; wait: boolean }) =>
      setResult(
        ask(options.config, 'shutdown', {}).then(async ({ pid }) => {
          if (!options.wait) {
            out(`supervisor ${pid} is stopping`);
            return 0;
          }
          await processGone(pid);
          out(`supervisor ${pid} has stopped`);
          return 0;
        }),
      ),
    );

  withConfig(root.command('reload'))
    .description('re-read every config (same as SIGHUP): start added profiles, stop removed ones, restart changed ones')
    .action((options: { config?: string }) =>
      setResult(
        ask(options.config, 'reload', {}, true).then((diff) => {
          out(`added: ${diff.added.join(', ') || 'none'}; removed: ${diff.removed.join(', ') || 'none'}; restarting: ${diff.changed.join(', ') || 'none'}`);
          return 0;
        }),
      ),
    );

  withConfig(root.command('check'))
    .description('run the holder audit, the integrity probe and the search for gateways outside the supervisor now; exit 1 on stale holders, violations, corruption or an outside gateway of a supervised profile')
    .option('--json', 'print the report as JSON')
    .option('--full', 'PRAGMA integrity_check instead of quick_check (slower on big boards)')
    .action((options: { config?: string; json?: boolean; full?: boolean }) =>
      setResult(
        ask(options.config, 'check', { full: options.full === true }, true).then((report) => {
          if (options.json) json(report);
          else out(checkText(report));
          return checkFailed(report) ? EXIT_FAILED : 0;
        }),
      ),
    );

  withConfig(root.command('logs'))
    .description("a gateway's output (<state_dir>/logs/<profile>.log)")
    .argument('<profile>')
    .option('-n, --lines <n>', 'how many lines', count, 50)
    .option('-f, --follow', 'keep printing new lines')
    .action((profile: string, options: { config?: string; lines: number; follow?: boolean }) => {
      setResult(showUntilInterrupted(logFile(options.config, profile), options.lines, out, options.follow === true));
    });

  withConfig(root.command('events'))
    .description('the event log (<state_dir>/events.jsonl)')
    .option('-n, --lines <n>', 'how many events', count, 50)
    .option('-f, --follow', 'keep printing new events')
    .option('--json', 'print events as JSON lines')
    .action((options: { config?: string; lines: number; follow?: boolean; json?: boolean }) => {
      const print = (line: string) => out(options.json ? line : readableEvent(line));
      setResult(showUntilInterrupted(eventsFile(options.config), options.lines, print, options.follow === true));
    });

  // --config is taken before `init` as well as after it.
  const kanban = withConfig(root.command('kanban')).description('board maintenance through the supervisor');
  withConfig(kanban.command('init'))
    .description("the safe re-init: fence and stop the board's granted gateways, run kanban.init_command, verify, restart them in a wave")
    .option('--board <slug>', 'the board', 'default')
    .action((_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<{ config?: string; board: string }>();
      setResult(
        ask(options.config, 'kanban_init', { board: options.board }, true).then((result) => {
          out(`board ${options.board}: init ${result.ok ? 'ok' : 'FAILED'} (exit ${result.init.code ?? result.init.error}), integrity ${result.integrity?.status ?? 'not checked'}, generation ${result.generation}`);
          if (!result.ok && result.init.output) out(result.init.output.trimEnd());
          out(gatewaysBack(result.wave));
          return result.ok && result.wave.failed.length === 0 ? 0 : EXIT_FAILED;
        }),
      );
    });
  withConfig(kanban.command('journal-mode'))
    .description("switch a board between rollback journal (delete) and WAL: stop the board's granted gateways, set the mode alone on the file, read it back from the header, restart them in a wave")
    .argument('<board>', 'the board slug (default for <hermes_home>/kanban.db)')
    .argument('<mode>', 'delete or wal')
    .option('--force', 'switch to WAL even when a holder or a granted gateway runs an SQLite with the WAL-reset bug')
    .action((board: string, mode: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<{ config?: string; force?: boolean }>();
      if (mode !== 'delete' && mode !== 'wal') throw new UsageError(`kanban journal-mode: expected the mode delete or wal, got "${mode}"`);
      setResult(
        ask(options.config, 'kanban_journal_mode', { board, mode, force: options.force === true }, true).then((result) => {
          out(journalModeText(result));
          return result.ok && result.wave.failed.length === 0 ? 0 : EXIT_FAILED;
        }),
      );
    });
  withConfig(kanban.command('restore'))
    .description("replace a board with a backup: copy and check it beside the board, stop every holder and the board's kanban workers, keep the old file in quarantine, rename the copy in, run kanban.init_command, restart the gateways in a wave")
    .argument('<file>', 'the backup, an SQLite database file')
    .option('--board <slug>', 'the board', 'default')
    .action((file: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<{ config?: string; board: string }>();
      setResult(
        ask(options.config, 'kanban_restore', { board: options.board, file: path.resolve(file) }, true).then((result) => {
          out(restoreText(result));
          return result.ok && result.wave.failed.length === 0 ? 0 : EXIT_FAILED;
        }),
      );
    });
  return root;
}

async function resume(config: string | undefined, profiles: string[]): Promise<number> {
  const result = await ask(config, 'start', { profiles }, true);
  if (result.started.length > 0 || result.already_running.length === 0) out(`started: ${result.started.join(', ') || 'none'}`);
  if (result.already_running.length > 0) out(`already running: ${result.already_running.join(', ')}`);
  if (result.failed.length === 0) return 0;
  fail(`did not come up ready: ${result.failed.join(', ')}`);
  return EXIT_FAILED;
}

/** `start PROFILE...` resumes gateways of a running supervisor; plain `start` runs the supervisor. */
function routeStart(args: string[]): string[] {
  if (args[0] !== 'start') return args;
  const rest = args.slice(1);
  const positional = rest.filter((arg, index) => !arg.startsWith('-') && !['-c', '--config'].includes(rest[index - 1] ?? ''));
  return positional.length > 0 ? ['start-gateway', ...rest] : args;
}

/** Runs the CLI; resolves with the exit code. Config problems exit 2 with one line per problem. */
export async function main(args: string[]): Promise<number> {
  // Output piped into `head` and closed early is not an error worth a stack trace. The supervisor
  // itself must not die of it (`start | tee` with tee gone): it stops printing instead.
  const daemon = routeStart(args)[0] === 'start';
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' && !daemon) process.exit(0);
  });
  let result: Promise<number> | number = 0;
  const root = program((value) => (result = value));
  try {
    if (args.length === 0) {
      root.outputHelp();
      return EXIT_USAGE;
    }
    await root.parseAsync(routeStart(args), { from: 'user' });
    return await result;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    if (err instanceof ConfigError) {
      for (const line of err.message.split('\n')) fail(line);
    } else {
      fail(err instanceof Error ? err.message : String(err));
    }
    return exitCodeOf(err);
  }
}
