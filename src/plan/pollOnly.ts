import { formatDuration } from '../util/index.js';

/**
 * The warning for `health.watch: false`: a swap is then seen only by the stat poll, and until it is,
 * the old generation's -wal/-shm (or -journal) keep the names SQLite pairs with the new file. Null
 * while file events are on.
 */
export function pollOnlyWarning(health: { watch: boolean; poll_interval: number }): string | null {
  if (health.watch) return null;
  return (
    `health.watch is false: a replaced board is noticed only by the stat poll (every ${formatDuration(health.poll_interval)}), ` +
    `and until then a gateway that opens the new file may pair it with the old file's -wal/-shm or -journal and corrupt it; ` +
    `keep health.watch: true unless this host cannot deliver file events for the board folders`
  );
}
