import { execa } from 'execa';

export interface NotifyResult {
  /** A message went to the service manager. False when not under systemd, or on error. */
  sent: boolean;
  error?: string;
}

const NOTIFY_TIMEOUT_MS = 5000;

/**
 * One line of STATUS text. The protocol is newline-separated assignments, so a newline inside a
 * status would let its text pose as another assignment (READY=1, MAINPID=...).
 */
export function statusAssignment(text: string): string {
  return `STATUS=${text.replace(/[\r\n]+/g, ' ').trim()}`;
}

/**
 * Sends assignments to the service manager through systemd-notify, when NOTIFY_SOCKET says there is
 * one. Node has no AF_UNIX datagram sockets, so a child does the sending; that is why the unit needs
 * NotifyAccess=all. Positional assignments work with every systemd-notify (--stopping only arrived in
 * systemd 253). Never throws: a missing binary or a refused message comes back in the result.
 */
export async function sdNotify(assignments: string[], env: NodeJS.ProcessEnv = process.env): Promise<NotifyResult> {
  if (!env.NOTIFY_SOCKET) return { sent: false };
  try {
    const result = await execa('systemd-notify', assignments, {
      env,
      extendEnv: false,
      stdin: 'ignore',
      timeout: NOTIFY_TIMEOUT_MS,
      reject: false,
    });
    if (result.exitCode === 0) return { sent: true };
    const detail = (result as { code?: string }).code ?? (String(result.stderr).trim() || result.shortMessage);
    return { sent: false, error: `systemd-notify failed: ${detail}` };
  } catch (err) {
    return { sent: false, error: `systemd-notify failed: ${(err as Error).message}` };
  }
}

export const notifyReady = (env?: NodeJS.ProcessEnv): Promise<NotifyResult> => sdNotify(['READY=1'], env);

export const notifyStatus = (text: string, env?: NodeJS.ProcessEnv): Promise<NotifyResult> => sdNotify([statusAssignment(text)], env);

export const notifyStopping = (env?: NodeJS.ProcessEnv): Promise<NotifyResult> => sdNotify(['STOPPING=1'], env);
