/** The body of a probe thread: one probe, its result posted back, then the thread ends. */
import { parentPort, workerData } from 'node:worker_threads';
import { probeIntegrity, type ProbeOptions } from './probe.js';

const { dbPath, options } = workerData as { dbPath: string; options: ProbeOptions };
parentPort?.postMessage(probeIntegrity(dbPath, options));
