import fs from 'node:fs';
import path from 'node:path';
import { realBoardPath } from '../board/index.js';

/** A temp file or folder with its creator's pid in its name. */
interface Named {
  pattern: RegExp;
  /** Folders are removed with their contents. */
  folder?: boolean;
}

/** Atomic writes in the state dir (replacePrivateFile in src/trust): `<file>.json.<pid>.tmp`. */
const STATE_TEMP: Named = { pattern: /^.+\.json\.(\d+)\.tmp$/ };
/** The control socket's bind folder, `.ctl<pid>-XXXXXX` (see control/socketfile.ts). */
const SOCKET_TEMP: Named = { pattern: /^\.ctl(\d+)-[A-Za-z0-9]{6}$/, folder: true };
/** A rebuild's new board and its sidecars beside the board's real file: `.<board>.rebuild-<pid>[-wal|-shm|-journal]`. */
const rebuildTemp = (board: string): Named => ({
  pattern: new RegExp(`^\\.${escapeRegExp(path.basename(board))}\\.rebuild-(\\d+)(?:-wal|-shm|-journal)?$`),
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: someone else's process has that pid; it may be the creator, keep its files.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sweep(dir: string, named: Named): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const pid = Number(named.pattern.exec(entry)?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || pid <= 0 || alive(pid)) continue;
    const file = path.join(dir, entry);
    try {
      fs.rmSync(file, { recursive: named.folder === true, force: true });
      removed.push(file);
    } catch {
      // Not ours to remove (another user's, a read-only mount): left where it is.
    }
  }
  return removed;
}

/**
 * Removes what supervisors that died mid-write left behind, when the pid in its name is dead:
 * half-written state files, control socket folders, and board rebuilds beside each board. Those of
 * a live pid are kept. Returns the paths removed.
 */
export function removeDeadTemps(stateDir: string, boardPaths: readonly string[], socketDirs: readonly string[] = []): string[] {
  const removed = [...sweep(stateDir, STATE_TEMP)];
  for (const dir of new Set([stateDir, ...socketDirs])) removed.push(...sweep(dir, SOCKET_TEMP));
  for (const board of new Set(boardPaths)) {
    // A rebuild writes beside a symlinked board's real file; the link's own folder is swept too.
    for (const dir of new Set([path.dirname(realBoardPath(board)), path.dirname(board)])) removed.push(...sweep(dir, rebuildTemp(board)));
  }
  return removed;
}
