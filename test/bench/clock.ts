import { performance } from 'node:perf_hooks';

/**
 * The supervisor stamps events with `performance.timeOrigin + performance.now()`: wall time taken
 * once at its start, then carried on by the monotonic clock. The two clocks drift apart by some ppm
 * (about 0.6 ms a minute measured here), so a moment measured in this long-lived process is put on
 * the same footing: wall time read fresh at an anchor, carried on by the same monotonic clock.
 */
export class AnchoredClock {
  private offset = 0;

  constructor() {
    this.anchor();
  }

  /** Re-reads wall time at the edge of a Date.now() tick, so the anchor is exact to microseconds. */
  anchor(): void {
    const start = Date.now();
    let now = start;
    let mono = performance.now();
    while (now === start) {
      mono = performance.now();
      now = Date.now();
    }
    this.offset = now - mono;
  }

  /** Epoch ms with fractions, on the clock of a process started at the last anchor. */
  now(): number {
    return this.offset + performance.now();
  }
}
