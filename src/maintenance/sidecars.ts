import fs from 'node:fs';
import path from 'node:path';
import { realBoardPath } from '../board/index.js';
import { copyInChild } from './childcopy.js';
import { fileStamp } from './copynames.js';
import { ensurePrivateDir, pathExists } from './fileops.js';

/**
 * SQLite finds a board's sidecars by name: `<db>-wal` and `<db>-shm` in WAL mode, `<db>-journal` in
 * rollback mode. A hot journal beside a new file would be rolled back into it, as a WAL would be read.
 */
export const SIDECAR_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

export function sidecarPaths(dbPath: string): string[] {
  return SIDECAR_SUFFIXES.map((suffix) => dbPath + suffix);
}

function freeName(candidate: string): string {
  let name = candidate;
  for (let n = 1; pathExists(name); n += 1) name = `${candidate}.${n}`;
  return name;
}

/**
 * Moves the `-wal`/`-shm`/`-journal` beside a board (beside its real file when `dbPath` is a symlink) into `dir` so an old generation's sidecars cannot poison
 * the file now at `dbPath`. They are renamed, never deleted; across filesystems they are copied by
 * a child process and only then unlinked. The moved names do not end in a sidecar suffix, so SQLite
 * never pairs them with a db file in `dir`; they are named after `dbPath`, as the board is. On one filesystem the renames happen before the first
 * await, so a caller on the swap path gets them done at once. Returns where they went.
 */
export async function moveAsideSidecars(
  dbPath: string,
  dir: string,
  reason: string,
  now: Date = new Date(),
  suffixes: ReadonlyArray<(typeof SIDECAR_SUFFIXES)[number]> = SIDECAR_SUFFIXES,
  expected: Partial<Record<(typeof SIDECAR_SUFFIXES)[number], { dev: number; ino: number }>> = {},
): Promise<string[]> {
  const tag = reason.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'moved';
  const target = path.resolve(dir);
  const real = realBoardPath(dbPath);
  const moved: string[] = [];
  for (const suffix of suffixes) {
    const source = real + suffix;
    if (!pathExists(source)) continue;
    // Judged old by its identity: a file now at that name is another one (a rollback journal is
    // created and deleted by every transaction), a current writer's, and stays where it is.
    const judged = expected[suffix];
    if (judged !== undefined) {
      const now = fs.statSync(source, { throwIfNoEntry: false });
      if (now === undefined || now.dev !== judged.dev || now.ino !== judged.ino) continue;
    }
    ensurePrivateDir(target);
    const destination = freeName(path.join(target, `${path.basename(dbPath)}.${fileStamp(now)}.${tag}.${suffix.slice(1)}`));
    try {
      fs.renameSync(source, destination);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // Across filesystems: first out of SQLite's sight at once (a rename in the board's own folder),
      // then copied to `dir` and only then unlinked.
      const aside = freeName(`${source}.${fileStamp(now)}.${tag}.moved`);
      fs.renameSync(source, aside);
      await copyInChild(aside, destination);
      fs.unlinkSync(aside);
    }
    moved.push(destination);
  }
  return moved;
}
