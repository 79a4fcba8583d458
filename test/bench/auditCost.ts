// Cost of one holder audit over a fleet of gateways that all hold one shared board.
// Usage: node dist/test/bench/auditCost.js [gateways ...]   (default: 50 200)
// Prints a JSON array, one entry per fleet size. p50/p99/mean are the default audit (fds only);
// maps_* are the thorough audit that also reads every process's /proc/<pid>/maps.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileKey, readBoardIdentities } from '../../src/board/identity.js';
import { auditHolders, findForeignHolders, type HolderTarget } from '../../src/board/holders.js';
import { startProcess, type RunningProcess } from '../../src/proc/index.js';

const RUNS = 200;
const WARMUP = 10;
const FOREIGN_RUNS = 20;
const MAPS_RUNS = 50;

// A gateway stand-in: loads the stdlib a Python service typically has mapped, joins the board in WAL
// mode (db and -wal open, -shm mapped) and waits. "init" also creates the schema, before the others.
const GATEWAY_PY = `
import asyncio, decimal, hashlib, json, os, socket, sqlite3, ssl, sys, time
conn = sqlite3.connect(sys.argv[2], timeout=30, isolation_level=None)
conn.execute('PRAGMA journal_mode=WAL')
if sys.argv[1] == 'init':
    conn.execute('CREATE TABLE IF NOT EXISTS t(x)')
    conn.execute('INSERT INTO t VALUES (1)')
conn.execute('SELECT count(*) FROM t').fetchall()
print('ready', flush=True)
time.sleep(600)  # safety net: the bench kills it long before
`;

/** One line of this script's JSON output: the cost of one holder audit at one fleet size. */
export interface AuditCostResult {
  gateways: number;
  runs: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  processes_scanned: number;
  holders_found: number;
  host_processes: number;
  fds_per_gateway: number;
  maps_lines_per_gateway: number;
  maps_runs: number;
  maps_p50_ms: number;
  maps_p99_ms: number;
  foreign_p50_ms: number;
}

const inheritedEnv = (): Record<string, string> =>
  Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));

/** A stand-in gateway in its own process group; resolves once it printed "ready". */
function startGateway(script: string, mode: string, db: string): Promise<RunningProcess> {
  return new Promise((resolve, reject) => {
    let out = '';
    const child = startProcess(['python3', script, mode, db], {
      env: inheritedEnv(),
      graceMs: 1000,
      stream: (output) =>
        output.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('ready')) resolve(child);
        }),
    });
    void child.result.then((result) => reject(new Error(`gateway exited (${result.code ?? result.error}) before ready`)));
  });
}

async function stopAll(children: RunningProcess[]): Promise<void> {
  await Promise.all(children.map((child) => child.stop()));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function countProcesses(): number {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).length;
}

async function measure(gateways: number): Promise<AuditCostResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-cost-'));
  const children: RunningProcess[] = [];
  try {
    const script = path.join(dir, 'gateway.py');
    fs.writeFileSync(script, GATEWAY_PY);
    const db = path.join(dir, 'kanban.db');
    children.push(await startGateway(script, 'init', db));
    // Started in batches so a small machine is not asked for 200 interpreters at once.
    for (let started = 1; started < gateways; ) {
      const batch = Math.min(25, gateways - started);
      const ready = await Promise.all(Array.from({ length: batch }, () => startGateway(script, 'join', db)));
      children.push(...ready);
      started += batch;
    }

    const ids = readBoardIdentities(db);
    const targets: HolderTarget[] = [];
    for (const role of ['db', 'wal', 'shm'] as const) {
      const id = ids[role];
      if (id !== null) targets.push({ key: fileKey(id.dev, id.ino), board: 'main', generation: 1, role });
    }
    const owners = children.map((child, i) => ({ owner: `profile-${i}`, pid: child.pid! }));

    for (let i = 0; i < WARMUP; i++) auditHolders(targets, owners);
    const durations: number[] = [];
    let last = auditHolders(targets, owners);
    for (let i = 0; i < RUNS; i++) {
      last = auditHolders(targets, owners);
      durations.push(last.durationMs);
    }
    durations.sort((a, b) => a - b);

    const withMaps: number[] = [];
    for (let i = 0; i < MAPS_RUNS; i++) withMaps.push(auditHolders(targets, owners, { maps: true }).durationMs);
    withMaps.sort((a, b) => a - b);

    const foreign: number[] = [];
    const exclude = new Set([process.pid]);
    for (let i = 0; i < FOREIGN_RUNS; i++) {
      const started = performance.now();
      findForeignHolders(targets, exclude);
      foreign.push(performance.now() - started);
    }
    foreign.sort((a, b) => a - b);

    const sample = children[0]!.pid!;
    return {
      gateways,
      runs: RUNS,
      p50_ms: round(percentile(durations, 0.5)),
      p99_ms: round(percentile(durations, 0.99)),
      mean_ms: round(durations.reduce((sum, d) => sum + d, 0) / durations.length),
      processes_scanned: last.scanned,
      holders_found: last.holders.length,
      host_processes: countProcesses(),
      fds_per_gateway: fs.readdirSync(`/proc/${sample}/fd`).length,
      maps_lines_per_gateway: fs.readFileSync(`/proc/${sample}/maps`, 'latin1').trimEnd().split('\n').length,
      maps_runs: MAPS_RUNS,
      maps_p50_ms: round(percentile(withMaps, 0.5)),
      maps_p99_ms: round(percentile(withMaps, 0.99)),
      foreign_p50_ms: round(percentile(foreign, 0.5)),
    };
  } finally {
    await stopAll(children);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sizes = process.argv.slice(2).map(Number);
const results: AuditCostResult[] = [];
for (const gateways of sizes.length > 0 ? sizes : [50, 200]) results.push(await measure(gateways));
console.log(JSON.stringify(results, null, 2));
