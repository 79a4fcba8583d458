import test from 'ava';
import { readyAtTimer, stateVerdict } from '../src/fleet/readiness.js';
import { exitEvent, HERMES_FATAL_CONFIG_EXIT, HERMES_RESTART_EXIT, LIFECYCLE, transition, type GatewayEvent, type GatewayState } from '../src/fleet/index.js';

const STATES: GatewayState[] = ['starting', 'running', 'draining', 'stopping', 'stopped', 'backoff', 'failed'];

test('a start spawns from every state without a child, and is ignored while one runs', (t) => {
  t.deepEqual(transition('stopped', 'start'), { next: 'starting', effects: ['spawn'] });
  t.deepEqual(transition('backoff', 'start'), { next: 'starting', effects: ['cancel_backoff', 'spawn'] });
  t.deepEqual(transition('failed', 'start'), { next: 'starting', effects: ['reset_history', 'spawn'] });
  for (const state of ['starting', 'running', 'stopping'] as const) t.is(transition(state, 'start'), null, state);
});

test('a stop terminates a live child and settles every other state as stopped', (t) => {
  t.deepEqual(transition('starting', 'stop'), { next: 'stopping', effects: ['terminate'] });
  t.deepEqual(transition('running', 'stop'), { next: 'stopping', effects: ['terminate'] });
  t.deepEqual(transition('backoff', 'stop'), { next: 'stopped', effects: ['cancel_backoff'] });
  t.deepEqual(transition('failed', 'stop'), { next: 'stopped', effects: [] });
  t.is(transition('stopping', 'stop'), null, 'a second stop waits for the same exit');
  t.is(transition('stopped', 'stop'), null);
});

test('an exit while stopping is the end of the stop; otherwise a crash backs off or gives up', (t) => {
  for (const event of ['crashed', 'gave_up'] as const) t.deepEqual(transition('stopping', event), { next: 'stopped', effects: [] });
  for (const state of ['starting', 'running'] as const) {
    t.deepEqual(transition(state, 'crashed'), { next: 'backoff', effects: ['commit_crash', 'schedule_restart'] });
    t.deepEqual(transition(state, 'gave_up'), { next: 'failed', effects: ['commit_crash', 'announce_failed'] });
  }
  t.is(exitEvent(1, { kind: 'restart', delayMs: 100 }), 'crashed');
  t.is(exitEvent(null, { kind: 'give_up', crashes: 5 }), 'gave_up');
});

test("Hermes's exit 75 spawns again at once, 78 fails for good, whatever the crash policy says", (t) => {
  for (const decision of [{ kind: 'restart', delayMs: 100 }, { kind: 'give_up', crashes: 5 }] as const) {
    t.is(exitEvent(HERMES_RESTART_EXIT, decision), 'restart_requested');
    t.is(exitEvent(HERMES_FATAL_CONFIG_EXIT, decision), 'fatal_config');
  }
  // Before it was ever ready, a 75 is a refusal to start: a crash under the crash policy, never a tight loop.
  t.is(exitEvent(HERMES_RESTART_EXIT, { kind: 'restart', delayMs: 100 }, false), 'crashed');
  t.is(exitEvent(HERMES_RESTART_EXIT, { kind: 'give_up', crashes: 5 }, false), 'gave_up');
  for (const state of ['starting', 'running'] as const) {
    t.deepEqual(transition(state, 'restart_requested'), { next: 'starting', effects: ['spawn'] });
    t.deepEqual(transition(state, 'fatal_config'), { next: 'failed', effects: ['announce_failed'] });
  }
  for (const event of ['restart_requested', 'fatal_config'] as const) {
    t.deepEqual(transition('stopping', event), { next: 'stopped', effects: [] }, 'an exit while stopping ends the stop');
    for (const state of ['stopped', 'backoff', 'failed'] as const) t.is(transition(state, event), null, `${event} in ${state}`);
  }
  t.deepEqual(transition('failed', 'start'), { next: 'starting', effects: ['reset_history', 'spawn'] }, 'an operator starts it again');
});

test('a graceful restart drains only a ready gateway; any exit ends the drain uncounted; a late drain becomes a stop', (t) => {
  t.deepEqual(transition('running', 'drain'), { next: 'draining', effects: ['signal_drain'] });
  for (const state of STATES.filter((state) => state !== 'running')) t.is(transition(state, 'drain'), null, state);
  t.deepEqual(transition('draining', 'drain_timeout'), { next: 'stopping', effects: ['terminate'] });
  t.is(transition('stopping', 'drain_timeout'), null, 'a drain that ended in time leaves its timer nothing to do');
  t.deepEqual(transition('draining', 'stop'), { next: 'stopping', effects: ['terminate'] });
  for (const event of ['restart_requested', 'fatal_config', 'crashed', 'gave_up'] as const) {
    t.deepEqual(transition('draining', event), { next: 'stopped', effects: [] }, event);
  }
  t.deepEqual(transition('draining', 'start'), null, 'the wave starts it once the drained child is gone');
});

test('ready only counts while starting; the end of a backoff only respawns in backoff', (t) => {
  t.deepEqual(transition('starting', 'ready'), { next: 'running', effects: ['announce_ready'] });
  t.deepEqual(transition('backoff', 'backoff_over'), { next: 'starting', effects: ['spawn'] });
  for (const state of STATES.filter((state) => state !== 'starting')) t.is(transition(state, 'ready'), null, state);
  for (const state of STATES.filter((state) => state !== 'backoff')) t.is(transition(state, 'backoff_over'), null, state);
});

test('every transition lands in a known state, and only states with a child are terminated or reach stopping', (t) => {
  for (const [event, row] of Object.entries(LIFECYCLE) as Array<[GatewayEvent, (typeof LIFECYCLE)[GatewayEvent]]>) {
    for (const [state, step] of Object.entries(row) as Array<[GatewayState, NonNullable<(typeof row)[GatewayState]>]>) {
      t.true(STATES.includes(step.next), `${event} in ${state}`);
      if (step.effects.includes('terminate')) t.true(['starting', 'running', 'draining'].includes(state), `${event} in ${state}`);
      if (step.effects.includes('spawn')) t.is(step.next, 'starting', `${event} in ${state}`);
    }
  }
});

test("readiness from the state file: only the gateway's own running counts; the timer stands in only where no file is", (t) => {
  const ours = (pid: number) => pid === 10;
  t.is(stateVerdict({ state: 'running', pid: 10 }, ours), 'running');
  t.is(stateVerdict({ state: 'starting', pid: 10 }, ours), 'ours');
  t.is(stateVerdict({ state: 'running', pid: 11 }, ours), 'none', "a previous run's file");
  t.is(stateVerdict({ state: 'running', pid: null }, ours), 'none');
  t.is(stateVerdict(null, ours), 'none');
  t.true(readyAtTimer('timer', true));
  t.true(readyAtTimer('state_file', false), 'no home to look in: the timer stands in');
  t.false(readyAtTimer('state_file', true), 'a home: only the state file makes the gateway ready');
});
