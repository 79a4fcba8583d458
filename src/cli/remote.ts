import { loadConfig } from '../config/index.js';
import { ControlError, request } from '../control/index.js';

/** Sends one command to the supervisor that the config names; long commands wait without a timeout. */
export async function ask(configFile: string | undefined, cmd: string, args: Record<string, unknown> = {}, waits = false): Promise<unknown> {
  const config = loadConfig(configFile);
  try {
    return await request(config.control.socket, cmd, args, waits ? { timeoutMs: 0 } : {});
  } catch (err) {
    if (err instanceof ControlError && err.code === 'not_running') {
      throw new ControlError('not_running', `no supervisor is running for ${config.file} (socket ${config.control.socket}); start one with: hermes-supervisor start --config ${config.file}`);
    }
    throw err;
  }
}
