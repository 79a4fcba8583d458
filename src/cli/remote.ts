import { ConfigError, loadConfig, locateRuntime } from '../config/index.js';
import { call, ControlError, type ArgsOf, type CommandName, type ResultOf } from '../control/index.js';
import { findLeftovers } from '../recovery/index.js';
import { readInstanceRecord } from '../statedir/index.js';
import { trustProblem } from '../trust/index.js';

/**
 * Sends one command to the supervisor that the config names; long commands wait without a timeout.
 *
 * The supervisor is found even when the config has errors or names another socket since it started:
 * the state dir and socket are read leniently, and the state dir's record of the running supervisor
 * gives the socket it actually listens on. A `reload` of a broken config is sent all the same, so the
 * supervisor rejects it, logs why and keeps running as it was.
 */
export async function ask<K extends CommandName>(configFile: string | undefined, cmd: K, args: ArgsOf<K>, waits = false): Promise<ResultOf<K>> {
  let configError: ConfigError | null = null;
  let paths: { file: string; state_dir: string; socket: string };
  try {
    const config = loadConfig(configFile);
    paths = { file: config.file, state_dir: config.state_dir, socket: config.control.socket };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    configError = err;
    paths = locateRuntime(configFile);
  }
  const running = readInstanceRecord(paths.state_dir);
  const sockets = [...new Set([paths.socket, ...(running ? [running.socket] : [])])];
  for (const socket of sockets) {
    // A socket another user could have put there would answer for the supervisor: never ask it.
    const untrusted = trustProblem(socket, { what: 'control socket', finalOwner: 'user-or-root', finalKind: 'socket', missingOk: true });
    if (untrusted !== null) throw new Error(`${untrusted}; not sending it ${cmd}`);
    let result: ResultOf<K>;
    try {
      result = await call(socket, cmd, args, waits ? { timeoutMs: 0 } : {});
    } catch (err) {
      if (err instanceof ControlError && err.code === 'not_running') continue;
      throw err;
    }
    if (configError !== null && cmd !== 'reload') {
      process.stderr.write(`hermes-supervisor: warning: ${paths.file} has errors; the running supervisor keeps the config it last loaded (run validate)\n`);
    }
    return result;
  }
  // Nothing to talk to: the broken config is the operator's real problem.
  if (configError !== null) throw configError;
  throw new ControlError('not_running', `no supervisor is running for ${paths.file} (socket ${paths.socket})${orphansNote(paths.state_dir)}; start one with: hermes-supervisor start --config ${paths.file}`);
}

/**
 * Gateways a killed supervisor left running, by its process records (a pid now naming another
 * process is not counted): they run unsupervised until the next start stops them.
 */
function orphansNote(stateDir: string): string {
  const left = findLeftovers(stateDir);
  if (left.length === 0) return '';
  const list = left.map((record) => `${record.profile} (pid ${record.pid})`).join(', ');
  return `, but ${left.length} gateway${left.length === 1 ? '' : 's'} it started ${left.length === 1 ? 'is' : 'are'} still running unsupervised: ${list} (the next start stops them first)`;
}
