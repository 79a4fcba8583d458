import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { ConfigError, loadConfig } from '../config/index.js';
import { discoverBoards } from '../board/index.js';

const CLI = new URL('../../../bin/hermes-supervisor.js', import.meta.url).pathname;

/**
 * Replaces a board file the way an operator restoring a backup does: a consistent copy made with
 * `VACUUM INTO` (never `cp` of a live database) beside it, renamed over it. The file at the path is
 * then a new inode, while the gateways holding the board still have the old one open.
 */
function swapBoard(board: string): { oldIno: number; newIno: number } {
  const fresh = path.join(path.dirname(board), `.${path.basename(board)}.swap-${process.pid}`);
  const oldIno = statSync(board).ino;
  const db = new Database(board, { readonly: true, timeout: 5000 });
  try {
    db.prepare('VACUUM INTO ?').run(fresh);
  } catch (err) {
    rmSync(fresh, { force: true });
    throw err;
  } finally {
    db.close();
  }
  // Same folder, so the rename is atomic: the path never lacks a board.
  renameSync(fresh, board);
  return { oldIno, newIno: statSync(board).ino };
}

/** `npm run demo:swap`: swaps a board of the fleet a config describes (the demo's by default). */
function main(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, board: { type: 'string', default: 'default' } } });
  const config = loadConfig(values.config);
  const spec = discoverBoards(config.hermes_home, config.kanban.boards).find((board) => board.slug === values.board);
  if (!spec || !existsSync(spec.path)) {
    process.stderr.write(`demo:swap: board ${values.board} does not exist yet (${spec?.path ?? config.hermes_home}); start the demo first: npm start\n`);
    return 1;
  }
  const { oldIno, newIno } = swapBoard(spec.path);
  process.stdout.write(
    [
      `replaced board ${spec.slug}: ${spec.path} (inode ${oldIno} -> ${newIno})`,
      'The supervisor now fences the gateways still holding the old file (board.swap, board.fence),',
      'moves its -wal/-shm aside (board.sidecars) and restarts those gateways in one wave (wave.done).',
      `See it: node ${path.relative(process.cwd(), CLI)} status --config ${values.config ?? config.file}`,
      '',
    ].join('\n'),
  );
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  const lines = err instanceof ConfigError ? err.message.split('\n') : [(err as Error).message];
  for (const line of lines) process.stderr.write(`demo:swap: ${line}\n`);
  process.exitCode = err instanceof ConfigError ? 2 : 1;
}
