/**
 * The plan of one rolling wave: an ordered set of profiles still to restart. Adding to a wave that
 * is running re-plans it (a profile already waiting is not queued twice; one already restarted is
 * queued again), so a swap during a wave never starts a second wave.
 */
export class WaveQueue {
  private readonly pending: string[] = [];
  readonly reasons = new Set<string>();
  readonly boards = new Set<string>();
  readonly profiles = new Set<string>();
  /**
   * Profiles to restart gracefully (SIGUSR1). A plain request wins over a graceful one for a profile
   * waiting in both: whoever needs it stopped (a board swap, a reload) must not wait for a drain.
   */
  readonly graceful = new Set<string>();

  add(profiles: Iterable<string>, reason: string, board?: string, graceful = false): string[] {
    this.reasons.add(reason);
    if (board !== undefined) this.boards.add(board);
    const added: string[] = [];
    for (const profile of profiles) {
      this.profiles.add(profile);
      const waiting = this.pending.includes(profile);
      if (!graceful) this.graceful.delete(profile);
      else if (!waiting) this.graceful.add(profile);
      if (waiting) continue;
      this.pending.push(profile);
      added.push(profile);
    }
    return added;
  }

  /** The next batch of at most `maxParallel` profiles, removed from the queue. */
  nextBatch(maxParallel: number): string[] {
    return this.pending.splice(0, Math.max(1, maxParallel));
  }

  /** Up to `limit` waiting profiles that `eligible` accepts, in queue order, removed from the queue. */
  take(limit: number, eligible: (profile: string) => boolean): string[] {
    const taken: string[] = [];
    for (let index = 0; index < this.pending.length && taken.length < limit; ) {
      if (eligible(this.pending[index]!)) taken.push(...this.pending.splice(index, 1));
      else index++;
    }
    return taken;
  }

  /** Whether any waiting profile is one `match` accepts. */
  waiting(match: (profile: string) => boolean): boolean {
    return this.pending.some(match);
  }

  get size(): number {
    return this.pending.length;
  }
}
