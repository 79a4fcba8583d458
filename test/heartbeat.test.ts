import { renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import * as v from 'valibot';
import { supervisorSchema } from '../src/config/schema.js';
import { heartbeatCheckMs, heartbeatVerdict } from '../src/fleet/index.js';
import { parseUpdatedAt, type GatewayStateRecord } from '../src/hermes/index.js';
import { ofType } from './helpers/events.js';
import { brisk, startFleet, type Fleet } from './helpers/fleet.js';
import { poll } from './helpers/wait.js';

// A stale Hermes heartbeat (gateway_state.json's updated_at, or the loop heartbeat in state/gateway.heartbeat) is a warning in events and status, never a restart.

const NOW = Date.parse('2026-11-30T05:00:00Z');
const record = (fields: Partial<GatewayStateRecord>): GatewayStateRecord => ({ state: 'running', pid: 10, updatedAt: NOW - 30_000, servedProfiles: null, ...fields });

test('updated_at reads as ISO-8601 UTC or as epoch seconds, and nothing else', (t) => {
  t.is(parseUpdatedAt('2026-11-30T04:25:35.123456+00:00'), Date.parse('2026-11-30T04:25:35.123Z'));
  t.is(parseUpdatedAt('2026-11-30T04:25:35Z'), Date.parse('2026-11-30T04:25:35Z'));
  t.is(parseUpdatedAt('2026-11-30T04:25:35'), Date.parse('2026-11-30T04:25:35Z'), 'no zone is UTC, as Hermes writes it');
  t.is(parseUpdatedAt(1796012735.5), 1796012735500);
  t.is(parseUpdatedAt('1796012735'), 1796012735000);
  for (const bad of ['yesterday', '', null, true, Number.NaN, {}]) t.is(parseUpdatedAt(bad), null, String(bad));
});

test('a heartbeat is stale when older than the threshold, of another process, or in a state of a gateway not serving', (t) => {
  const fresh = heartbeatVerdict(record({}), true, null, NOW, 120_000);
  t.deepEqual(fresh, { age_s: 30, state: 'running', stale: false, reason: null });
  t.like(heartbeatVerdict(record({ updatedAt: NOW - 121_000 }), true, null, NOW, 120_000), { age_s: 121, stale: true, reason: 'no heartbeat for 121s' });
  t.like(heartbeatVerdict(record({ pid: 11 }), false, null, NOW, 120_000), { stale: true, reason: 'names another pid (11)' });
  t.like(heartbeatVerdict(record({ state: 'degraded' }), true, null, NOW, 120_000), { state: 'degraded', stale: true, reason: 'says degraded' });
  t.like(heartbeatVerdict(record({ state: 'startup_failed' }), true, null, NOW, 120_000), { stale: true });
  t.like(heartbeatVerdict(record({ state: 'draining' }), true, null, NOW, 120_000), { stale: false }, "Hermes's own drain (/restart) is no warning");
  t.like(heartbeatVerdict(record({ updatedAt: null }), true, null, NOW, 120_000), { age_s: null, stale: true, reason: 'no readable updated_at' });
  t.deepEqual(heartbeatVerdict(null, false, null, NOW, 120_000), { age_s: null, state: null, stale: false, reason: null }, 'no file, no verdict');
});

test("the gateway's own loop heartbeat keeps a quiet state file fresh; the fresher of the two counts", (t) => {
  const quiet = record({ updatedAt: NOW - 3_600_000 });
  t.deepEqual(heartbeatVerdict(quiet, true, NOW - 20_000, NOW, 120_000), { age_s: 20, state: 'running', stale: false, reason: null });
  t.like(heartbeatVerdict(quiet, true, NOW - 125_000, NOW, 120_000), { age_s: 125, stale: true, reason: 'no heartbeat for 125s' });
  t.like(heartbeatVerdict(record({ updatedAt: NOW - 5_000 }), true, NOW - 200_000, NOW, 120_000), { age_s: 5, stale: false }, 'an old loop beat does not age a fresh state file');
  t.like(heartbeatVerdict(record({ updatedAt: null }), true, NOW - 10_000, NOW, 120_000), { age_s: 10, stale: false });
  t.like(heartbeatVerdict(record({ state: 'degraded' }), true, NOW, NOW, 120_000), { stale: true, reason: 'says degraded' }, 'a live loop does not hide a state that is not serving');
});

test('the check runs on a slow schedule, and heartbeat_stale_after defaults to 120s with 0 for off', (t) => {
  t.is(heartbeatCheckMs(120_000), 30_000);
  t.is(heartbeatCheckMs(2_000), 5_000);
  const parse = (health: Record<string, unknown>) => v.parse(supervisorSchema, { gateway: { command: ['hermes'] }, health }).health.heartbeat_stale_after;
  t.is(parse({}), 120_000);
  t.is(parse({ heartbeat_stale_after: 0 }), 0);
  t.is(parse({ heartbeat_stale_after: '0' }), 0);
  t.is(parse({ heartbeat_stale_after: '90s' }), 90_000);
  t.throws(() => parse({ heartbeat_stale_after: 'soon' }), { message: /expected a duration/ });
});

interface HeartbeatStatus {
  name: string;
  heartbeat: { age_s: number | null; state: string | null; stale: boolean; reason: string | null } | null;
}

async function heartbeats(fleet: Fleet): Promise<Record<string, HeartbeatStatus['heartbeat']>> {
  const status = JSON.parse((await fleet.cli('status', '--json')).stdout) as { profiles: HeartbeatStatus[] };
  return Object.fromEntries(status.profiles.map((profile) => [profile.name, profile.heartbeat]));
}

/** Asks a fixture gateway for something through its request file (written atomically, as it expects). */
function request(fleet: Fleet, profile: string, text: string): void {
  const file = path.join(fleet.hermesHome, 'profiles', profile, '.fixture-request');
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

test('a stalled heartbeat and a degraded state are reported once each, shown in status, and recover; nothing is restarted', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk({ health: { heartbeat_stale_after: '2s' } }),
    profiles: {
      // Stamps updated_at once when running and beats its loop once, then never again until asked.
      stalled: { mode: 'idle', args: ['--heartbeat-ms', '0', '--loop-heartbeat-ms', '0'] },
      degraded: { mode: 'idle', args: ['--heartbeat-ms', '200'] },
      healthy: { mode: 'idle', args: ['--heartbeat-ms', '200'] },
    },
  });
  const pid = (profile: string) => ofType(fleet.events(), 'gateway.spawn', profile)[0]!.pid;
  request(fleet, 'degraded', 'state degraded');

  let events = await fleet.waitForEvent((all) => ofType(all, 'gateway.heartbeat_stale').length === 2);
  const stale = ofType(events, 'gateway.heartbeat_stale', 'stalled')[0]!;
  t.like(stale, { pid: pid('stalled'), state: 'running', stale_after_s: 2 });
  t.true((stale.age_s as number) >= 2);
  t.like(ofType(events, 'gateway.heartbeat_stale', 'degraded')[0], { pid: pid('degraded'), state: 'degraded', reason: 'says degraded' });

  const seen = await heartbeats(fleet);
  t.like(seen.stalled, { state: 'running', stale: true });
  t.regex(seen.stalled!.reason!, /^no heartbeat for \d+s$/);
  t.like(seen.degraded, { state: 'degraded', stale: true });
  t.like(seen.healthy, { state: 'running', stale: false, reason: null });
  t.regex((await fleet.cli('status')).stdout, /STALE \(no heartbeat for \d+s\)/);

  // Another check or more goes by with the heartbeat still stale: the episode is reported only once.
  const later = await poll(() => heartbeats(fleet), (now) => (now.stalled?.age_s ?? 0) >= (stale.age_s as number) + heartbeatCheckMs(2000) / 1000 + 1);
  t.true(later.stalled!.stale);
  request(fleet, 'stalled', 'heartbeat 200');
  events = await fleet.waitForEvent((all) => ofType(all, 'gateway.heartbeat_ok', 'stalled').length === 1);
  t.like(ofType(events, 'gateway.heartbeat_ok', 'stalled')[0], { pid: pid('stalled'), state: 'running' });
  t.is(ofType(events, 'gateway.heartbeat_stale', 'stalled').length, 1);
  t.like((await heartbeats(fleet)).stalled, { stale: false });
  t.deepEqual(ofType(events, 'gateway.heartbeat_stale', 'healthy'), []);
  for (const profile of ['stalled', 'degraded', 'healthy']) t.is(ofType(events, 'gateway.spawn', profile).length, 1, `${profile} was never restarted`);
  t.deepEqual(ofType(events, 'gateway.exit'), []);
});

test('a gateway whose state file is written only on transitions stays fresh while its loop beats, and is warned about when the loop stops', async (t) => {
  const fleet = await startFleet(t, {
    config: brisk({ health: { heartbeat_stale_after: '2s' } }),
    // As Hermes versions before the housekeeping re-stamp: gateway_state.json on transitions only.
    profiles: { quiet: { mode: 'idle', args: ['--heartbeat-ms', '0', '--loop-heartbeat-ms', '200'] } },
  });
  const stateFile = path.join(fleet.hermesHome, 'profiles', 'quiet', 'gateway_state.json');
  // Long enough for the state file alone to be stale and for a check or more to have looked at it.
  const longEnough = (2 + heartbeatCheckMs(2000) / 1000 + 1) * 1000;
  await poll(() => Date.now() - statSync(stateFile).mtimeMs, (age) => age > longEnough);
  t.like((await heartbeats(fleet)).quiet, { state: 'running', stale: false, reason: null });
  t.deepEqual(ofType(fleet.events(), 'gateway.heartbeat_stale', 'quiet'), []);

  request(fleet, 'quiet', 'loop-heartbeat off');
  const events = await fleet.waitForEvent((all) => ofType(all, 'gateway.heartbeat_stale', 'quiet').length === 1);
  t.regex(ofType(events, 'gateway.heartbeat_stale', 'quiet')[0]!.reason as string, /^no heartbeat for \d+s$/);
  t.is(ofType(events, 'gateway.spawn', 'quiet').length, 1, 'never restarted');
});
