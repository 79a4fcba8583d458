/**
 * Names of the files kept in a quarantine directory, and which of them to prune. Pure: the
 * quarantine module does the I/O.
 *
 * A copy is `<slug>.<stamp>.<hash12>.db` plus optional `-wal`/`-shm`/`-journal` beside it, so SQLite
 * opens a copy together with its own WAL or journal.
 */

export interface CopyName {
  /** The copy's db file name; sidecars are this plus `-wal`/`-shm`/`-journal`. */
  base: string;
  stamp: string;
  hash: string;
}

const STAMP = String.raw`\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z`;
const SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** ISO time usable in file names (no ':'), sorting as text in time order. */
export function fileStamp(now: Date): string {
  return now.toISOString().replace(/:/g, '-');
}

export function assertSlug(slug: string): void {
  if (!SLUG.test(slug)) throw new Error(`board slug ${JSON.stringify(slug)} is not usable in a file name (expected letters, digits, '.', '_', '-')`);
}

export function copyBaseName(slug: string, stamp: string, hash: string): string {
  return `${slug}.${stamp}.${hash}.db`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The copy a file name belongs to, or undefined for anything this module did not name. */
export function parseCopyName(slug: string, fileName: string): CopyName | undefined {
  const pattern = new RegExp(`^(${escapeRegExp(slug)}\\.(${STAMP})\\.([0-9a-f]{12})\\.db)(?:-wal|-shm|-journal)?$`);
  const match = pattern.exec(fileName);
  if (!match) return undefined;
  return { base: match[1]!, stamp: match[2]!, hash: match[3]! };
}

export interface CopyGroup extends CopyName {
  files: string[];
}

/** Copies found among `fileNames`, oldest first. */
export function groupCopies(slug: string, fileNames: readonly string[]): CopyGroup[] {
  const groups = new Map<string, CopyGroup>();
  for (const fileName of fileNames) {
    const name = parseCopyName(slug, fileName);
    if (!name) continue;
    const group = groups.get(name.base) ?? { ...name, files: [] };
    group.files.push(fileName);
    groups.set(name.base, group);
  }
  for (const group of groups.values()) group.files.sort();
  return [...groups.values()].sort((a, b) => (a.stamp === b.stamp ? a.base.localeCompare(b.base) : a.stamp < b.stamp ? -1 : 1));
}

export function findCopyByHash(slug: string, fileNames: readonly string[], hash: string): CopyGroup | undefined {
  return groupCopies(slug, fileNames).find((group) => group.hash === hash && group.files.includes(group.base));
}

/** File names to delete so that at most `keep` copies remain, the oldest going first. */
export function planPrune(slug: string, fileNames: readonly string[], keep: number): string[] {
  const groups = groupCopies(slug, fileNames);
  return groups.slice(0, Math.max(0, groups.length - keep)).flatMap((group) => group.files);
}
