import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reads a value until `done` holds for it or `timeoutMs` has passed, and returns the last value read
 * either way: the caller's assertion on it reports a miss, so a slow machine only waits longer.
 */
export async function poll<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 120_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    await sleep(everyMs);
  }
}

/**
 * Settles like `promise`, or rejects naming `what` after `timeoutMs`: a generous bound that turns a
 * hang into a failure, never a measure of speed.
 */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads `probe` until it gives a value (not `undefined` or `false`) and returns it; rejects naming
 * `what` after `timeoutMs`, for a wait whose value the test goes on to use.
 */
export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const value = await poll(probe, (read) => read !== undefined && read !== false, timeoutMs);
  if (value === undefined || value === false) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return value;
}
