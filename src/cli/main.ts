import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { startCommand } from './start.js';
import { validateCommand } from './validate.js';

const EXIT_USAGE = 2;

function program(out: (text: string) => void): { root: Command; result: () => Promise<number> } {
  let pending: Promise<number> = Promise.resolve(0);
  const root = new Command('hermes-supervisor')
    .description('Supervises a fleet of Hermes gateways, one per profile, and keeps their shared kanban boards safe.')
    .exitOverride()
    .configureOutput({ writeOut: (text) => process.stdout.write(text), writeErr: (text) => process.stderr.write(text) })
    .showSuggestionAfterError();

  root
    .command('validate')
    .description('print the fleet plan (profiles, grants, commands, boards) without starting anything')
    .option('-c, --config <file>', 'supervisor config file')
    .option('--json', 'print the plan as JSON')
    .action((options: { config?: string; json?: boolean }) => {
      pending = Promise.resolve(validateCommand(options, out));
    });

  root
    .command('start')
    .description('run the supervisor in the foreground: start every profile\'s gateway and keep it running')
    .option('-c, --config <file>', 'supervisor config file')
    .action((options: { config?: string }) => {
      pending = startCommand(options);
    });

  return { root, result: () => pending };
}

/** Runs the CLI; resolves with the exit code. Config problems exit 2 with one line per problem. */
export async function main(args: string[]): Promise<number> {
  const { root, result } = program((text) => process.stdout.write(`${text}\n`));
  try {
    if (args.length === 0) {
      root.outputHelp();
      return EXIT_USAGE;
    }
    await root.parseAsync(args, { from: 'user' });
    return await result();
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      for (const line of err.message.split('\n')) process.stderr.write(`hermes-supervisor: ${line}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`hermes-supervisor: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
