import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ProbeOptions, ProbeResult } from './probe.js';

// Beside this module, and beside the bundle, which has the worker as an entry of its own.
const WORKER_URL = new URL('./probeWorker.js', import.meta.url);

/**
 * probeIntegrity on its own thread: a quick_check of a large board takes seconds, and the supervisor's
 * event loop must keep noticing swaps and answering the control socket meanwhile. Never rejects; a
 * thread that fails reports `error`.
 */
export function probeIntegrityInThread(dbPath: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const failed = (detail: string): void => settle({ status: 'error', detail, durationMs: performance.now() - started });
    const worker = new Worker(WORKER_URL, { workerData: { dbPath, options } });
    worker.once('message', (result: ProbeResult) => settle(result));
    worker.once('error', (err) => failed(`the probe thread failed: ${err.message}`));
    worker.once('exit', (code) => failed(`the probe thread exited (code ${code}) without a result`));
  });
}
