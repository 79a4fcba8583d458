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

  add(profiles: Iterable<string>, reason: string, board?: string): string[] {
    this.reasons.add(reason);
    if (board !== undefined) this.boards.add(board);
    const added: string[] = [];
    for (const profile of profiles) {
      this.profiles.add(profile);
      if (this.pending.includes(profile)) continue;
      this.pending.push(profile);
      added.push(profile);
    }
    return added;
  }

  /** The next batch of at most `maxParallel` profiles, removed from the queue. */
  nextBatch(maxParallel: number): string[] {
    return this.pending.splice(0, Math.max(1, maxParallel));
  }

  get size(): number {
    return this.pending.length;
  }
}
