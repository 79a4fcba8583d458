import { execFileSync } from 'node:child_process';
import os from 'node:os';
import Database from 'better-sqlite3';
import { python } from '../helpers/fixture.js';

export interface MachineInfo {
  machine: { cpus: number; cpu_model: string; mem_gb: number; kernel: string; load_avg_at_start: number[] };
  node: string;
  sqlite: string;
  python: string;
  python_sqlite: string;
}

export function machineInfo(): MachineInfo {
  const db = new Database(':memory:');
  const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  db.close();
  const [pythonVersion, pythonSqlite] = execFileSync(python, ['-c', 'import sqlite3, sys; print(sys.version.split()[0]); print(sqlite3.sqlite_version)'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  const cpus = os.cpus();
  return {
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model.trim() ?? 'unknown',
      mem_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      kernel: `${os.type()} ${os.release()}`,
      load_avg_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100),
    },
    node: process.version,
    sqlite,
    python: pythonVersion ?? 'unknown',
    python_sqlite: pythonSqlite ?? 'unknown',
  };
}
