import { watch, type FSWatcher } from 'chokidar';

export interface WatchOptions {
  /** Folders to watch, each with how deep below it events matter; none for a poll-only watch. */
  folders: Array<{ path: string; depth: number }>;
  pollIntervalMs: number;
  /** A file event: the board it concerns must be stat'ed and its identity compared. */
  onEvent: (path: string) => void;
  /** The stat poll, a fallback for missed events. */
  onPoll: () => void;
  onError?: (err: Error) => void;
}

/**
 * File events plus a stat poll. chokidar follows paths, not inodes, and folds a quick unlink and
 * re-create into one `change`, so events only say "look now"; the identity comparison decides.
 */
export class BoardWatcher {
  /** By folder and depth, so a folder is never watched twice. */
  private readonly watchers = new Map<string, FSWatcher>();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: WatchOptions) {}

  async start(): Promise<void> {
    await this.watchFolders(this.options.folders);
    this.poll = setInterval(() => this.options.onPoll(), this.options.pollIntervalMs);
  }

  /** Adds folders (a reload may name boards in new ones); resolves once their events are flowing. */
  async watchFolders(folders: WatchOptions['folders']): Promise<void> {
    for (const folder of folders) {
      const key = `${folder.depth}:${folder.path}`;
      if (this.closed || this.watchers.has(key)) continue;
      const watcher = watch(folder.path, { ignoreInitial: true, depth: folder.depth, persistent: true, atomic: false });
      watcher.on('all', (_event, path) => this.options.onEvent(path));
      watcher.on('error', (err) => this.options.onError?.(err as Error));
      this.watchers.set(key, watcher);
      await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    await Promise.all([...this.watchers.values()].map((watcher) => watcher.close()));
  }
}
