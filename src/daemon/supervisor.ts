import { mkdirSync } from 'node:fs';
import { EventLog, type SupervisorEvent } from '../events/index.js';
import { Fleet, WaveRunner } from '../fleet/index.js';
import { deniedHome, type FleetPlan } from '../plan/index.js';
import { BoardSteward } from '../steward/index.js';

export interface SupervisorOptions {
  /** Where gateway output lines and event summaries go. */
  print: (line: string) => void;
}

/** The one owner process on a host: runs the fleet of a plan and records every state change. */
export class Supervisor {
  readonly events: EventLog;
  readonly fleet: Fleet;
  readonly waves: WaveRunner;
  readonly steward: BoardSteward;
  readonly startedAt = new Date();
  private stopping: Promise<void> | null = null;

  constructor(
    readonly plan: FleetPlan,
    options: SupervisorOptions,
  ) {
    const { config } = plan;
    mkdirSync(config.state_dir, { recursive: true, mode: 0o700 });
    for (const profile of plan.profiles) {
      if (profile.enabled && !profile.grant) mkdirSync(deniedHome(config, profile.name), { recursive: true, mode: 0o700 });
    }
    this.events = new EventLog(config.state_dir);
    this.events.subscribe((event) => options.print(summarise(event)));
    this.fleet = new Fleet(plan, { events: this.events, echo: options.print });
    this.waves = new WaveRunner(this.fleet, this.events, {
      maxParallel: config.restart.max_parallel,
      debounceMs: config.restart.debounce,
    });
    this.steward = new BoardSteward({ plan, fleet: this.fleet, events: this.events, waves: this.waves });
  }

  async start(): Promise<void> {
    const { config } = this.plan;
    this.events.emit('supervisor.start', {
      pid: process.pid,
      config: config.file,
      state_dir: config.state_dir,
      profiles: this.plan.profiles.filter((profile) => profile.enabled).map((profile) => profile.name),
    });
    // Board identities are known before any gateway can open a board.
    await this.steward.start();
    await this.fleet.startAll();
  }

  /** Stops every gateway (in parallel, each within its stop_timeout); safe to call more than once. */
  shutdown(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.events.emit('supervisor.stopping', { pid: process.pid, reason });
      this.waves.close();
      await this.steward.stop();
      await this.fleet.stopAll();
      this.events.emit('supervisor.stop', { pid: process.pid, reason });
    })();
    return this.stopping;
  }
}

const QUIET_FIELDS = new Set(['ts', 'ts_ms', 'type']);

function summarise(event: SupervisorEvent): string {
  const fields = Object.entries(event)
    .filter(([name, value]) => !QUIET_FIELDS.has(name) && value !== undefined && value !== null)
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `supervisor | ${event.type} ${fields.join(' ')}`.trimEnd();
}
