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
  private readonly watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly options: WatchOptions) {}

  async start(): Promise<void> {
    for (const folder of this.options.folders) {
      const watcher = watch(folder.path, { ignoreInitial: true, depth: folder.depth, persistent: true, atomic: false });
      watcher.on('all', (_event, path) => this.options.onEvent(path));
      watcher.on('error', (err) => this.options.onError?.(err as Error));
      this.watchers.push(watcher);
      await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    }
    this.poll = setInterval(() => this.options.onPoll(), this.options.pollIntervalMs);
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    await Promise.all(this.watchers.map((watcher) => watcher.close()));
  }
}
