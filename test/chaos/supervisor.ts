import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { runCli, type CliResult } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';

export interface SupervisorProcess {
  child: ChildProcess;
  pid: number;
  outputFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
}

/** `hermes-supervisor start --config FILE` in the background, its output appended to a file. */
export function startSupervisorProcess(configFile: string, outputFile: string): SupervisorProcess {
  const fd = openSync(outputFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [cliPath, 'start', '--config', configFile], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`cannot start the supervisor (${cliPath})`);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  return { child, pid: child.pid, outputFile, exited, running: () => !done };
}

/** One CLI command against the running supervisor. */
export function supervisorCli(configFile: string, args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return runCli([...args, '--config', configFile], { timeoutMs });
}
