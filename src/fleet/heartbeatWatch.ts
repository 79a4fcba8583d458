import { ENV, gatewayStatePath, loopHeartbeatPath, readGatewayState, readLoopHeartbeat, stateFileStamp, type GatewayStateRecord } from '../hermes/index.js';
import { heartbeatCheckMs, heartbeatVerdict, type HeartbeatView } from './heartbeat.js';
import type { GatewayState } from './lifecycle.js';
import { inGroup } from './readiness.js';

/** What the watch needs of a gateway. */
export interface HeartbeatGateway {
  readonly name: string;
  readonly state: GatewayState;
  readonly pid: number | null;
  readonly profile: { env: Record<string, string>; role?: string };
}

export interface HeartbeatEvents {
  emit(type: string, fields?: Record<string, unknown>): unknown;
}

/** The last read of one gateway's state file and loop heartbeat, and whether its stale episode was reported. */
interface Sample {
  pid: number;
  /** The gateway's gateway_state.json, its path worked out once. */
  file: string;
  stamp: string | null;
  record: GatewayStateRecord | null;
  ours: boolean;
  /** Its state/gateway.heartbeat, likewise. */
  beatFile: string;
  beatStamp: string | null;
  /** When its own process last beat; null when the file is absent or another process's (a previous run's). */
  beatAt: number | null;
  reported: boolean;
}

/**
 * Warns about running gateways whose Hermes heartbeat (`updated_at` in gateway_state.json, or the
 * loop heartbeat in state/gateway.heartbeat, whichever is fresher) went stale: one
 * `gateway.heartbeat_stale` per episode, `gateway.heartbeat_ok` when it recovers. A warning only:
 * Hermes's own liveness keys off the pid, so nothing is restarted for it. One look at the fleet per
 * check, riding on the board poll; each look is two stats, and a read only of a file whose stamp changed.
 */
export class HeartbeatWatch {
  private readonly samples = new Map<string, Sample>();
  private stopPulse: () => void = () => undefined;
  private checkedAt = Date.now();

  constructor(
    private readonly gateways: () => Iterable<HeartbeatGateway>,
    private readonly events: HeartbeatEvents,
    private staleAfterMs: number,
  ) {}

  /**
   * Checks ride on a wake-up the daemon has anyway (the board poll), at most every
   * heartbeatCheckMs: no timer of its own to wake an idle supervisor.
   */
  start(pulse: (listener: () => void) => () => void): void {
    this.stopPulse = pulse(() => this.onPulse());
  }

  stop(): void {
    this.stopPulse();
    this.stopPulse = () => undefined;
  }

  /** A new threshold (after a reload); 0 turns the check off. */
  setStaleAfter(ms: number): void {
    if (ms === this.staleAfterMs) return;
    this.staleAfterMs = ms;
    this.samples.clear();
  }

  /** The verdict on one gateway now, from its last read (one stat); null when not checked (off, or not running). */
  look(gateway: HeartbeatGateway): HeartbeatView | null {
    const home = gateway.profile.env[ENV.home];
    // A service writes no gateway_state.json; the one in its home (the Hermes root) is the default profile's.
    if (this.staleAfterMs === 0 || gateway.state !== 'running' || gateway.pid === null || home === undefined || gateway.profile.role === 'service') return null;
    let sample = this.samples.get(gateway.name);
    if (sample === undefined || sample.pid !== gateway.pid) {
      sample = {
        pid: gateway.pid,
        file: gatewayStatePath(home),
        stamp: null,
        record: null,
        ours: false,
        beatFile: loopHeartbeatPath(home),
        beatStamp: null,
        beatAt: null,
        reported: false,
      };
      this.samples.set(gateway.name, sample);
    }
    const stamp = stateFileStamp(sample.file);
    if (stamp !== sample.stamp) {
      sample.stamp = stamp;
      sample.record = stamp === null ? null : readGatewayState(sample.file);
      sample.ours = sample.record?.pid != null && inGroup(gateway.pid)(sample.record.pid);
    }
    const beatStamp = stateFileStamp(sample.beatFile);
    if (beatStamp !== sample.beatStamp) {
      sample.beatStamp = beatStamp;
      const beat = beatStamp === null ? null : readLoopHeartbeat(sample.beatFile);
      sample.beatAt = beat?.pid != null && inGroup(gateway.pid)(beat.pid) ? beat.updatedAt : null;
    }
    return heartbeatVerdict(sample.record, sample.ours, sample.beatAt, Date.now(), this.staleAfterMs);
  }

  private onPulse(): void {
    const now = Date.now();
    if (this.staleAfterMs === 0 || now - this.checkedAt < heartbeatCheckMs(this.staleAfterMs)) return;
    this.checkedAt = now;
    this.check();
  }

  /** Reports each episode's start and end; a gateway that stopped running ends its episode silently (its exit says why). */
  private check(): void {
    const seen = new Set<string>();
    for (const gateway of this.gateways()) {
      const view = this.look(gateway);
      const sample = this.samples.get(gateway.name);
      if (view === null || sample === undefined) continue;
      seen.add(gateway.name);
      if (view.stale === sample.reported) continue;
      sample.reported = view.stale;
      const fields = { profile: gateway.name, pid: gateway.pid, age_s: view.age_s, state: view.state };
      if (view.stale) this.events.emit('gateway.heartbeat_stale', { ...fields, reason: view.reason, stale_after_s: this.staleAfterMs / 1000 });
      else this.events.emit('gateway.heartbeat_ok', fields);
    }
    for (const name of this.samples.keys()) if (!seen.has(name)) this.samples.delete(name);
  }
}
