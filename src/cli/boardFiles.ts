import fs from 'node:fs';
import type { ConfigIssue, SupervisorConfig } from '../config/index.js';
import { HEADER_BYTES, notSqliteReason, parseHeader } from '../maintenance/index.js';

/**
 * A board file's first bytes, read with a plain fd: safe in `validate`'s own short-lived process,
 * which holds no SQLite connection whose locks closing the fd could drop. Undefined when there is
 * nothing to judge (no file yet, which Hermes creates, or one this user cannot read).
 */
function readStart(file: string): Uint8Array | 'directory' | undefined {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (stat === undefined) return undefined;
  if (stat.isDirectory()) return 'directory';
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const bytes = Buffer.alloc(HEADER_BYTES);
    return bytes.subarray(0, fs.readSync(fd, bytes, 0, HEADER_BYTES, 0));
  } finally {
    fs.closeSync(fd);
  }
}

function problemOf(start: Uint8Array | 'directory'): string | null {
  if (start === 'directory') return 'is a directory';
  const header = parseHeader(start);
  return header.kind === 'not_sqlite' ? `is ${notSqliteReason(header.prefix)}` : null;
}

/** Explicit `kanban.boards` paths that hold something other than an SQLite database: the supervisor would hold such a board. */
export function boardFileIssues(config: SupervisorConfig): ConfigIssue[] {
  if (config.kanban.boards === 'auto') return [];
  const issues: ConfigIssue[] = [];
  config.kanban.boards.forEach((board, index) => {
    const start = readStart(board.path);
    const problem = start === undefined ? null : problemOf(start);
    if (problem === null) return;
    issues.push({ file: config.file, key: `kanban.boards[${index}].path`, message: `${board.path} ${problem}; expected a Hermes kanban board (an SQLite database) or a path that does not exist yet` });
  });
  return issues;
}
