import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { realBoardPath } from '../board/index.js';
import { copyInChild } from './childcopy.js';
import { assertSlug, copyBaseName, fileStamp, findCopyByHash, planPrune } from './copynames.js';
import { ensurePrivateDir, pathExists } from './fileops.js';
import { SIDECAR_SUFFIXES } from './sidecars.js';

export interface QuarantineOptions {
  /** The board's own quarantine directory, e.g. `<state_dir>/quarantine/<slug>/`. */
  dir: string;
  slug: string;
  /** Sets kept at most (copies and moved-aside sidecars alike, see pruneQuarantine); the oldest are removed first. */
  keep: number;
  now?: Date;
}

export interface QuarantineResult {
  /** False when a copy with the same bytes was already there. */
  copied: boolean;
  /** The copy's db file. */
  path: string;
  /** First 12 hex digits of sha256 over the copy's db, WAL and journal bytes. */
  hash: string;
  /** The copy's files: the db and the sidecars that were present. */
  files: string[];
  /** Older sets' files deleted to honour `keep`. */
  removed: string[];
}

/** Reads the copies only, never a board file. */
async function hashFiles(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex').slice(0, 12);
}

function removeFromDir(dir: string, fileNames: readonly string[]): string[] {
  const removed: string[] = [];
  for (const fileName of fileNames) {
    // Names come from readdir of `dir`; basename() keeps a crafted name from escaping it.
    const file = path.join(dir, path.basename(fileName));
    fs.rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}

export interface PruneOptions {
  dir: string;
  slug: string;
  /** The board file: moved-aside sidecars are named after its base name. */
  dbPath: string;
  keep: number;
}

function assertKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`quarantine keep must be a positive integer, got ${keep}`);
}

/**
 * Keeps at most `keep` sets in a board's quarantine directory: each copy with its sidecars, and each
 * move-aside's sidecars, counts as one set; the oldest go first, whole. Files under other names are
 * never touched. Returns what was deleted; a directory not made yet holds nothing to prune.
 */
export function pruneQuarantine(opts: PruneOptions): string[] {
  assertSlug(opts.slug);
  assertKeep(opts.keep);
  const dir = path.resolve(opts.dir);
  let fileNames: string[];
  try {
    fileNames = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return removeFromDir(dir, planPrune({ slug: opts.slug, boardName: path.basename(opts.dbPath) }, fileNames, opts.keep));
}

/**
 * Keeps a forensic copy of a fenced (writer-free) corrupt board and its sidecars in `dir`. A symlinked
 * board is copied from its real file, with the sidecars beside that file.
 * Identical bytes are stored once, so repeated probes of one corruption add nothing.
 */
export async function quarantineBoard(dbPath: string, opts: QuarantineOptions): Promise<QuarantineResult> {
  assertSlug(opts.slug);
  assertKeep(opts.keep);
  const real = realBoardPath(dbPath);
  if (!pathExists(real)) throw new Error(`cannot quarantine ${dbPath}: ${real === path.resolve(dbPath) ? 'it does not exist' : `its target ${real} does not exist`}`);
  const dir = path.resolve(opts.dir);
  ensurePrivateDir(dir);
  const prune = (): string[] => pruneQuarantine({ dir, slug: opts.slug, dbPath, keep: opts.keep });

  const temp = path.join(dir, `.${opts.slug}.partial-${process.pid}-${randomBytes(6).toString('hex')}.db`);
  const copiedSuffixes: string[] = [];
  try {
    for (const suffix of ['', ...SIDECAR_SUFFIXES]) {
      const source = real + suffix;
      if (suffix !== '' && !pathExists(source)) continue;
      try {
        await copyInChild(source, temp + suffix);
      } catch (err) {
        // A rollback journal lives only as long as its transaction: one gone since the look is no part of the set.
        if (suffix !== '' && !pathExists(source)) continue;
        throw err;
      }
      fs.chmodSync(temp + suffix, 0o600);
      copiedSuffixes.push(suffix);
    }
    const hashed = copiedSuffixes.filter((suffix) => suffix !== '-shm').map((suffix) => temp + suffix);
    const hash = await hashFiles(hashed);

    const existing = findCopyByHash(opts.slug, fs.readdirSync(dir), hash);
    if (existing) {
      removeFromDir(dir, copiedSuffixes.map((suffix) => path.basename(temp + suffix)));
      return {
        copied: false,
        path: path.join(dir, existing.base),
        hash,
        files: existing.files.map((fileName) => path.join(dir, fileName)),
        removed: prune(),
      };
    }

    const finalBase = path.join(dir, copyBaseName(opts.slug, fileStamp(opts.now ?? new Date()), hash));
    // Sidecars first: the db file appearing is what makes the copy complete.
    const order = [...copiedSuffixes.filter((suffix) => suffix !== ''), ''];
    for (const suffix of order) fs.renameSync(temp + suffix, finalBase + suffix);
    return {
      copied: true,
      path: finalBase,
      hash,
      files: copiedSuffixes.map((suffix) => finalBase + suffix),
      removed: prune(),
    };
  } catch (err) {
    for (const suffix of ['', ...SIDECAR_SUFFIXES]) fs.rmSync(temp + suffix, { force: true });
    throw err;
  }
}
