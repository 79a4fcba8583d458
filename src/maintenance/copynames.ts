/**
 * Names of the files kept in a quarantine directory, and which of them to prune. Pure: the
 * quarantine module does the I/O.
 *
 * A copy is `<slug>.<stamp>.<hash12>.db` plus optional `-wal`/`-shm`/`-journal` beside it, so SQLite
 * opens a copy together with its own WAL or journal. Sidecars moved aside from the board are
 * `<board file>.<stamp>.<tag>.wal|shm|journal`, with `.<n>` added when the name was taken.
 */
import { byText } from '../util/index.js';

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
  return [...groups.values()].sort((a, b) => (a.stamp === b.stamp ? byText(a.base, b.base) : a.stamp < b.stamp ? -1 : 1));
}

export function findCopyByHash(slug: string, fileNames: readonly string[], hash: string): CopyGroup | undefined {
  return groupCopies(slug, fileNames).find((group) => group.hash === hash && group.files.includes(group.base));
}

/** Whose files a quarantine directory holds: the board's slug (copies) and its file's base name (moved sidecars). */
export interface QuarantineOwner {
  slug: string;
  /** The board file's base name, e.g. `kanban.db`. */
  boardName: string;
}

/** Everything one move-aside left: a copy with its sidecars, or the sidecars one move renamed. */
interface QuarantineSet {
  stamp: string;
  files: string[];
}

/** The move a moved-aside sidecar's name belongs to (`<stamp>.<tag>`), or undefined for any other name. */
function parseMovedName(boardName: string, fileName: string): { stamp: string; tag: string } | undefined {
  const pattern = new RegExp(`^${escapeRegExp(boardName)}\\.(${STAMP})\\.([A-Za-z0-9_-]+)\\.(?:wal|shm|journal)(?:\\.\\d+)?$`);
  const match = pattern.exec(fileName);
  return match ? { stamp: match[1]!, tag: match[2]! } : undefined;
}

/** The sets among `fileNames`, oldest first; names neither a copy nor a moved sidecar belong to none. */
function groupSets(owner: QuarantineOwner, fileNames: readonly string[]): QuarantineSet[] {
  const sets = new Map<string, QuarantineSet & { key: string }>();
  const add = (key: string, stamp: string, fileName: string): void => {
    const set = sets.get(key) ?? { key, stamp, files: [] };
    set.files.push(fileName);
    sets.set(key, set);
  };
  for (const fileName of fileNames) {
    const copy = parseCopyName(owner.slug, fileName);
    if (copy) {
      add(`copy ${copy.base}`, copy.stamp, fileName);
      continue;
    }
    const moved = parseMovedName(owner.boardName, fileName);
    if (moved) add(`moved ${moved.stamp}.${moved.tag}`, moved.stamp, fileName);
  }
  return [...sets.values()]
    .sort((a, b) => (a.stamp === b.stamp ? byText(a.key, b.key) : a.stamp < b.stamp ? -1 : 1))
    .map(({ stamp, files }) => ({ stamp, files: files.sort() }));
}

/** File names to delete so that at most `keep` sets remain: the oldest sets go first, each one whole. */
export function planPrune(owner: QuarantineOwner, fileNames: readonly string[], keep: number): string[] {
  const sets = groupSets(owner, fileNames);
  return sets.slice(0, Math.max(0, sets.length - keep)).flatMap((set) => set.files);
}
