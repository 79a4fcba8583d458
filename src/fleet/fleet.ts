import type { EventLog } from '../events/index.js';
import type { FleetPlan, PlannedProfile } from '../plan/index.js';
import { Gateway, type GatewayLifecycle, type GatewayTimings } from './gateway.js';
import { GatewayOutput, type Echo } from './output.js';

export interface FleetOptions {
  events: EventLog;
  /** Where gateways' output lines go besides their log files. */
  echo: Echo;
  lifecycle?: GatewayLifecycle;
}

/** Every enabled profile's gateway and every service, keyed by name (services and profiles never share one). */
export class Fleet {
  readonly gateways = new Map<string, Gateway>();
  private readonly outputs = new Map<string, GatewayOutput>();
  private plan: FleetPlan;

  constructor(
    plan: FleetPlan,
    private readonly options: FleetOptions,
  ) {
    this.plan = plan;
    for (const profile of plan.profiles) if (profile.enabled) this.add(profile);
  }

  get(name: string): Gateway | undefined {
    return this.gateways.get(name);
  }

  /** Starts gateways in priority order: each priority level spawns together and settles before the next. */
  async startAll(): Promise<void> {
    const levels = new Map<number, Gateway[]>();
    for (const gateway of this.gateways.values()) {
      if (gateway.held) continue;
      const level = levels.get(gateway.profile.priority) ?? [];
      level.push(gateway);
      levels.set(gateway.profile.priority, level);
    }
    for (const priority of [...levels.keys()].sort((a, b) => a - b)) {
      const level = levels.get(priority)!;
      for (const gateway of level) gateway.start();
      await Promise.all(level.map((gateway) => gateway.waitReady()));
    }
  }

  /** Stops every gateway in parallel, each within its stop_timeout; none starts again afterwards. */
  async stopAll(): Promise<void> {
    for (const gateway of this.gateways.values()) gateway.retire();
    await Promise.all([...this.gateways.values()].map((gateway) => gateway.stop()));
    await Promise.all([...this.outputs.values()].map((output) => output.close()));
  }

  /** Takes a new plan: gateways added or restarted later use it. */
  setPlan(plan: FleetPlan): void {
    this.plan = plan;
    for (const gateway of this.gateways.values()) {
      const profile = plan.profiles.find((entry) => entry.name === gateway.name);
      if (profile) gateway.replan(profile, timingsOf(plan, profile));
    }
  }

  /** Output lines of a gateway dropped from the supervisor's own output because its reader stalled. */
  droppedLines(name: string): number {
    return this.outputs.get(name)?.dropped ?? 0;
  }

  /** Stops a gateway for good and forgets it. */
  async remove(name: string): Promise<void> {
    const gateway = this.gateways.get(name);
    if (!gateway) return;
    gateway.retire();
    await gateway.stop();
    this.gateways.delete(name);
    await this.outputs.get(name)?.close();
    this.outputs.delete(name);
  }

  add(profile: PlannedProfile): Gateway {
    const output = new GatewayOutput(profile.name, {
      stateDir: this.plan.config.state_dir,
      maxSize: this.plan.config.logs.max_size,
      keep: this.plan.config.logs.keep,
      echo: this.options.echo,
      onFileError: (error) => this.options.events.emit('gateway.log_error', { profile: profile.name, error }),
    });
    const gateway = new Gateway(profile, timingsOf(this.plan, profile), this.options.events, output, this.options.lifecycle);
    this.gateways.set(profile.name, gateway);
    this.outputs.set(profile.name, output);
    return gateway;
  }
}

/** The fleet's timings; a service's own stop_timeout beats `restart.stop_timeout`. */
export function timingsOf(plan: FleetPlan, member?: Pick<PlannedProfile, 'stop_timeout'>): GatewayTimings {
  const { restart } = plan.config;
  return {
    stopTimeoutMs: member?.stop_timeout ?? restart.stop_timeout,
    readyAfterMs: restart.ready_after,
    crash: {
      initialMs: restart.backoff.initial,
      maxMs: restart.backoff.max,
      resetAfterMs: restart.backoff.reset_after,
      giveUpCrashes: restart.give_up.crashes,
      giveUpWithinMs: restart.give_up.within,
    },
  };
}
