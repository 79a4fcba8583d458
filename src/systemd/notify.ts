import { runProcess } from '../proc/index.js';

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
 * systemd 253). It runs through the supervisor's own process runner, which a daemon has loaded
 * anyway. Never throws: a missing binary or a refused message comes back in the result.
 */
export async function sdNotify(assignments: string[], env: NodeJS.ProcessEnv = process.env): Promise<NotifyResult> {
  if (!env.NOTIFY_SOCKET) return { sent: false };
  const childEnv = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const result = await runProcess(['systemd-notify', ...assignments], {
    env: childEnv,
    capture: { keep: 'tail', limit: 2048 },
    timeoutMs: NOTIFY_TIMEOUT_MS,
    graceMs: 1000,
  });
  if (result.ended === 'exited' && result.code === 0) return { sent: true };
  const detail = result.error ?? (result.stderr.trim() || `${result.ended}${result.code !== null ? ` with code ${result.code}` : ''}`);
  return { sent: false, error: `systemd-notify failed: ${detail}` };
}

export const notifyReady = (env?: NodeJS.ProcessEnv): Promise<NotifyResult> => sdNotify(['READY=1'], env);

export const notifyStatus = (text: string, env?: NodeJS.ProcessEnv): Promise<NotifyResult> => sdNotify([statusAssignment(text)], env);

export const notifyStopping = (env?: NodeJS.ProcessEnv): Promise<NotifyResult> => sdNotify(['STOPPING=1'], env);
