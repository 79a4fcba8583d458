/** What the helpers need of a test: somewhere to register clean-up. A test's `t` is one. */
export interface Scope {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * A scope for a fleet that a file's tests share: hooks cannot register teardowns, so `close` (called
 * from `test.after.always`) runs the clean-ups, the last registered first as a test's would.
 */
export function sharedScope(): Scope & { close(): Promise<void> } {
  const cleanups: Array<() => void | Promise<void>> = [];
  return {
    teardown: (fn) => void cleanups.push(fn),
    async close() {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    },
  };
}
