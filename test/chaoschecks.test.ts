import test from 'ava';
import type { ErrorEvent, GatewayEvent } from './helpers/gatewayLog.js';
import { classifyErrors, reactionTimes } from './chaos/checks.js';
import type { SupervisorEvent } from './chaos/eventTail.js';
import type { Generation, GenerationOrigin } from './chaos/timeline.js';

const generation = (seq: number, ino: number, sinceMs: number, untilMs: number | null, origin: GenerationOrigin): Generation => ({
  seq,
  dev: 1,
  ino,
  birthtimeMs: sinceMs,
  sinceMs,
  untilMs,
  origin,
});

const ioError = (tsMs: number, ino: number): ErrorEvent => ({ event: 'error', profile: 'tick-1', pid: 7, ts_ms: tsMs, dev: 1, ino, error: 'disk I/O error', stage: 'write' });

const swap = (tsMs: number, ino: number, number: number, extra: Record<string, unknown> = {}): SupervisorEvent => ({
  type: 'board.swap',
  ts_ms: tsMs,
  new: { dev: 1, ino },
  generation: number,
  ...extra,
});

// The initial file, a rename-over at 1000 seen at 1005 and fenced at 1020, then a restore at 2000.
const generations = [generation(0, 10, 0, 1000, 'initial'), generation(1, 11, 1000, 2000, 'rename-over'), generation(2, 12, 2000, null, 'kanban-restore')];
const events: SupervisorEvent[] = [
  swap(1005, 11, 2),
  { type: 'board.fence', ts_ms: 1020, generation: 2 },
  swap(2000, 12, 3, { job: 'restore' }),
];

test('an I/O error on a file swapped behind the supervisor\'s back counts apart only until the fence that followed it', (t) => {
  const reactions = reactionTimes(events, generations);
  t.is(reactions.get(generations[1]!), 1020);
  t.false(reactions.has(generations[2]!), 'a restore has no window: every holder was stopped first');
  const logs = new Map<string, GatewayEvent[]>([['tick-1', [ioError(1010, 11), ioError(1030, 11), ioError(2010, 12)]]]);
  const summary = classifyErrors(logs, generations, reactions);
  t.deepEqual(summary.ioBeforeReaction['rename-over']?.map((error) => error.ts_ms), [1010]);
  t.deepEqual(summary.ioCurrent.map((error) => error.ts_ms), [1030, 2010], 'after the fence, and on a restored file, they are violations');
});

test('a swap nobody was stale on ends its window at its board.swap; one replaced before it was seen never ends it', (t) => {
  const unseen = [generation(0, 10, 0, 1000, 'initial'), generation(1, 11, 1000, 1003, 'rm-recreate'), generation(2, 13, 1003, null, 'rename-over')];
  const reactions = reactionTimes([swap(1008, 13, 2), swap(1500, 14, 3)], unseen);
  t.is(reactions.get(unseen[1]!), Number.POSITIVE_INFINITY);
  t.is(reactions.get(unseen[2]!), 1008, 'the next swap does not stand for this one\'s fence');
});

test('an error on the new file counts apart when a stale writer ended a transaction on the replaced file while the failing step ran', (t) => {
  const reactions = reactionTimes(events, generations);
  const failed = (began: number, ts: number): ErrorEvent => ({ ...ioError(ts, 11), began_ms: began });
  // A stale commit into the initial file (ino 10) at 1040, long after the fence at 1020.
  const staleCommit: GatewayEvent = { event: 'write', profile: 'tick-2', pid: 8, ts_ms: 1040, dev: 1, ino: 10, rowid: 1, mode: 'tick' };
  const logs = new Map<string, GatewayEvent[]>([
    ['tick-1', [failed(1015, 1050), failed(1030, 1045), failed(1041, 1060)]],
    ['tick-2', [staleCommit]],
  ]);
  const summary = classifyErrors(logs, generations, reactions);
  t.deepEqual(summary.ioBeforeReaction['rename-over']?.map((error) => error.ts_ms).sort(), [1045, 1050], 'begun before the fence, or running across the stale commit');
  t.deepEqual(summary.ioCurrent.map((error) => error.ts_ms), [1060], 'begun after both: a violation');
});
