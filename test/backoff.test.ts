import test from 'ava';
import { decideAfterCrash, emptyHistory, type CrashHistory, type CrashPolicy } from '../src/fleet/index.js';

const policy: CrashPolicy = { initialMs: 100, maxMs: 1000, resetAfterMs: 5000, giveUpCrashes: 100, giveUpWithinMs: 60_000 };

test('delays double from initial and are capped at max', (t) => {
  let history: CrashHistory = emptyHistory();
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    const step = decideAfterCrash(history, { now: i * 10, ranForMs: 10 }, policy);
    history = step.history;
    if (step.decision.kind === 'restart') delays.push(step.decision.delayMs);
  }
  t.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
});

test('a stable run of reset_after resets the backoff', (t) => {
  const first = decideAfterCrash(emptyHistory(), { now: 0, ranForMs: 10 }, policy);
  const second = decideAfterCrash(first.history, { now: 10, ranForMs: 10 }, policy);
  t.deepEqual(second.decision, { kind: 'restart', delayMs: 200 });
  const afterStableRun = decideAfterCrash(second.history, { now: 20_000, ranForMs: 6000 }, policy);
  t.deepEqual(afterStableRun.decision, { kind: 'restart', delayMs: 100 });
});

test('gives up after `crashes` crashes within the window, not when they are spread out', (t) => {
  const strict = { ...policy, giveUpCrashes: 3, giveUpWithinMs: 1000 };
  let history = emptyHistory();
  const kinds: string[] = [];
  for (const now of [0, 100, 200]) {
    const step = decideAfterCrash(history, { now, ranForMs: 10 }, strict);
    history = step.history;
    kinds.push(step.decision.kind);
  }
  t.deepEqual(kinds, ['restart', 'restart', 'give_up']);

  history = emptyHistory();
  kinds.length = 0;
  for (const now of [0, 900, 1800, 2700]) {
    const step = decideAfterCrash(history, { now, ranForMs: 10 }, strict);
    history = step.history;
    kinds.push(step.decision.kind);
  }
  t.deepEqual(kinds, ['restart', 'restart', 'restart', 'restart']);
});
