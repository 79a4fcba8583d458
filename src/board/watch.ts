import { statSync, watch as watchEntries, type FSWatcher as EntryWatcher } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface WatchedFolder {
  path: string;
  /** How deep below the folder events matter. */
  depth: number;
}

export interface WatchOptions {
  /** Folders to watch; none for a poll-only watch. A folder that does not exist yet is watched once it appears. */
  folders: WatchedFolder[];
  pollIntervalMs: number;
  /** A file event: the board it concerns must be stat'ed and its identity compared. */
  onEvent: (path: string) => void;
  /** The stat poll, a fallback for missed events. */
  onPoll: () => void;
  onError?: (err: Error) => void;
}

/** A missing folder, waited for through its nearest existing ancestor. */
interface Awaited {
  ancestor: string;
  watcher: EntryWatcher;
}

function isDirectory(folder: string): boolean {
  try {
    return statSync(folder).isDirectory();
  } catch {
    return false;
  }
}

/** The closest folder above `folder` that exists (the root always does). */
export function nearestExistingAncestor(folder: string): string {
  let dir = path.dirname(folder);
  while (!isDirectory(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * File events plus a stat poll. chokidar follows paths, not inodes, and folds a quick unlink and
 * re-create into one `change`, so events only say "look now"; the identity comparison decides.
 * chokidar never notices a folder that does not exist when it is asked to watch it, so such a folder
 * is waited for through its nearest existing ancestor and watched as soon as it appears.
 */
export class BoardWatcher {
  /** By folder and depth, so a folder is never watched twice. */
  private readonly watchers = new Map<string, FSWatcher>();
  /** Boards' own folders, watched raw as well: see watchEntriesOf. */
  private readonly entryWatchers = new Map<string, EntryWatcher>();
  private readonly awaited = new Map<string, Awaited>();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: WatchOptions) {}

  async start(): Promise<void> {
    await this.watchFolders(this.options.folders);
    // A shutdown during the start closed the watcher already: no poll may outlive it.
    if (this.closed) return;
    this.poll = setInterval(() => this.options.onPoll(), this.options.pollIntervalMs);
  }

  /**
   * Adds folders (a reload may name boards in new ones). Resolves once events are flowing for those
   * that exist, and once the others are being waited for.
   */
  async watchFolders(folders: WatchedFolder[]): Promise<void> {
    for (const folder of folders) await this.watchFolder(folder);
  }

  /**
   * Watches the entries of a board's own folder without chokidar's throttling, which drops a path's
   * `change` within 50 ms of the last: beside a rollback-journal board, whose file changes at every
   * commit, a rename over it went unseen until the poll, and for that long stale writers and current
   * ones shared one `-journal` name. Only renames are passed on (an entry created, removed or renamed):
   * a swap always is one, a write never is, so a busy board costs nothing here. A folder that cannot be
   * watched (missing, unreadable) is tried again at the next call; chokidar and the poll cover it meanwhile.
   */
  watchEntriesOf(folder: string): void {
    if (this.closed || this.entryWatchers.has(folder)) return;
    let watcher: EntryWatcher;
    try {
      watcher = watchEntries(folder, { persistent: false }, (event, name) => {
        if (event === 'rename' && name !== null) this.options.onEvent(path.join(folder, name));
      });
    } catch {
      return;
    }
    watcher.on('error', () => {
      watcher.close();
      if (this.entryWatchers.get(folder) === watcher) this.entryWatchers.delete(folder);
    });
    this.entryWatchers.set(folder, watcher);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    for (const watcher of this.entryWatchers.values()) watcher.close();
    this.entryWatchers.clear();
    for (const { watcher } of this.awaited.values()) watcher.close();
    this.awaited.clear();
    await Promise.all([...this.watchers.values()].map((watcher) => watcher.close()));
  }

  private async watchFolder(folder: WatchedFolder): Promise<void> {
    const key = `${folder.depth}:${folder.path}`;
    if (this.closed || this.watchers.has(key)) return;
    if (!isDirectory(folder.path)) {
      this.awaitFolder(key, folder);
      return;
    }
    const late = this.awaited.get(key);
    late?.watcher.close();
    this.awaited.delete(key);
    // A folder that appeared late may already hold a board: its contents count as events too.
    const watcher = watch(folder.path, { ignoreInitial: late === undefined, depth: folder.depth, persistent: true, atomic: false });
    watcher.on('all', (_event, file) => this.options.onEvent(file));
    watcher.on('error', (err) => this.options.onError?.(err as Error));
    this.watchers.set(key, watcher);
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  /** Watches the nearest existing ancestor for the next folder on the way down to `folder`. */
  private awaitFolder(key: string, folder: WatchedFolder): void {
    const ancestor = nearestExistingAncestor(folder.path);
    if (this.awaited.get(key)?.ancestor === ancestor) return;
    this.awaited.get(key)?.watcher.close();
    const next = path.relative(ancestor, folder.path).split(path.sep)[0];
    const recheck = () => void this.watchFolder(folder).catch((err: Error) => this.options.onError?.(err));
    let watcher: EntryWatcher;
    try {
      watcher = watchEntries(ancestor, { persistent: false }, (_event, name) => {
        if (name === null || name === next) recheck();
      });
    } catch (err) {
      // An ancestor that cannot be watched (EACCES): the stat poll still covers the boards below it.
      this.awaited.delete(key);
      this.options.onError?.(err as Error);
      return;
    }
    // The ancestor itself removed: wait one level further up.
    watcher.on('error', () => {
      watcher.close();
      if (this.awaited.get(key)?.watcher === watcher) this.awaited.delete(key);
      recheck();
    });
    this.awaited.set(key, { ancestor, watcher });
    // The folder may have appeared between the look above and the watch taking hold.
    recheck();
  }
}
