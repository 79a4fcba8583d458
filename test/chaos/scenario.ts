import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BoardOps } from './boardOps.js';
import type { Violation } from './checks.js';
import { stopSupervisor } from './cleanup.js';
import { EventTail, type SupervisorEvent } from './eventTail.js';
import { WORKER_END_MS, type ChaosFleet } from './fleet.js';
import { gatewayProcesses, isWorker, processesNaming, ProcWatch } from './procWatch.js';
import type { Random } from './random.js';
import { startSupervisorProcess, supervisorCli, type SupervisorProcess } from './supervisor.js';

export interface ChaosOptions {
  /** Board replacements to do (rm + recreate, rename-over, delete + `kanban init`, `kanban restore`). */
  swaps: number;
  /** Board jobs among them, in turn: `kanban init` on the board, `kanban init` after deleting it, `kanban restore`. */
  boardJobs: number;
  /** The swap phase ends at this epoch ms even if fewer swaps were done. */
  deadlineMs: number;
  /** At most this many gateways SIGKILLed. */
  maxGatewayKills: number;
}

export interface GatewayKill {
  profile: string;
  pid: number;
  at_ms: number;
  state: string;
}

export interface SupervisorKill {
  at_ms: number;
  pid: number;
  attempts: number;
  /** The wave it died in: its wave.start and what followed it before the kill. */
  wave_start: SupervisorEvent;
  events_after_wave_start: string[];
  /** gateways.json as the killed supervisor left it. */
  records: unknown;
  /** Gateway processes alive right after the kill, by profile. */
  live_after_kill: Record<string, number[]>;
  restart_ready_ms: number | null;
  leftover_events: SupervisorEvent[];
  /** One /proc scan once the new supervisor had every gateway ready. */
  live_after_restart: Record<string, number[]>;
}

const BURST_SIZES = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4];
/** Fewer swaps than this and the run proves too little: a scenario failure. */
const MIN_SWAPS = 100;

/**
 * Drives the run: replaces the board in bursts with varied spacing, calls `kanban init` and `kanban restore`, kills
 * gateways at random, and once kills the supervisor in the middle of a wave and starts a new one.
 */
export class ChaosDriver {
  readonly ops: BoardOps;
  readonly tail: EventTail;
  readonly watch: ProcWatch;
  readonly supervisors: SupervisorProcess[] = [];
  readonly kills: GatewayKill[] = [];
  readonly violations: Violation[] = [];
  readonly notes: string[] = [];
  supervisorKill: SupervisorKill | null = null;
  bursts = 0;
  midWaveBursts = 0;
  finalStop: { result: 'exited' | 'killed'; code: number | null; signal: string | null; ms: number } | null = null;
  private restarting = false;
  private finished = false;
  private readonly markers: Map<string, string>;

  constructor(
    readonly fleet: ChaosFleet,
    private readonly random: Random,
    private readonly options: ChaosOptions,
  ) {
    this.tail = new EventTail(fleet.eventsFile);
    this.ops = new BoardOps(fleet, (args, timeoutMs) => supervisorCli(fleet.configFile, args, timeoutMs), this.tail);
    this.markers = new Map(fleet.profiles.map((profile) => [profile.name, fleet.logFile(profile.name)]));
    this.watch = new ProcWatch(this.markers, fleet.board, 200);
  }

  get supervisor(): SupervisorProcess | undefined {
    return this.supervisors.at(-1);
  }

  async run(): Promise<void> {
    await this.ops.initial();
    await this.startSupervisor();
    this.watch.start();
    const killer = this.killGateways();
    try {
      await this.swapPhase();
    } finally {
      this.finished = true;
      await killer;
    }
    // The final generation takes writes from every gateway, and loses one to a SIGKILL, before the stop.
    await this.settle();
    await sleep(2000);
    await this.killOne(true);
    await sleep(3000);
    await this.settle();
    await this.checkFleetRunning();
    await this.stopFinal();
    // A few more samples: nothing of the fleet may outlive the supervisor.
    for (let i = 0; i < 5; i += 1) {
      this.watch.sample();
      await sleep(200);
    }
    this.watch.stop();
    this.tail.poll();
  }

  private async swapPhase(): Promise<void> {
    const { swaps, boardJobs } = this.options;
    const jobEvery = Math.max(1, Math.floor(swaps / Math.max(1, boardJobs)));
    let nextJobAt = Math.floor(jobEvery / 2);
    let jobs = 0;
    const killSupervisorAt = Math.floor(swaps * 0.45);
    while (this.ops.swapCount < swaps) {
      if (Date.now() > this.options.deadlineMs) {
        const message = `the swap phase hit its deadline after ${this.ops.swapCount} of ${swaps} swaps`;
        if (this.ops.swapCount < MIN_SWAPS) this.violations.push({ check: 'scenario', message });
        else this.notes.push(message);
        break;
      }
      if (!this.supervisorKill && this.ops.swapCount >= killSupervisorAt) {
        await this.killSupervisorMidWave();
      } else if (jobs < boardJobs && this.ops.swapCount >= nextJobAt) {
        if (jobs % 3 === 2) await this.ops.kanbanRestore();
        else await this.ops.kanbanInit(jobs % 3 === 1);
        jobs += 1;
        nextJobAt += jobEvery;
        await this.settle();
      } else {
        await this.burst();
      }
    }
  }

  /** 1-4 swaps 30-50 ms apart (one wave), then either a wait for the wave or a next burst into it. */
  private async burst(size = this.random.pick(BURST_SIZES)): Promise<void> {
    for (let i = 0; i < size; i += 1) {
      if (this.random.chance(0.5)) await this.ops.rmRecreate();
      else await this.ops.renameOver();
      if (i < size - 1) await sleep(this.random.int(30, 50));
    }
    this.bursts += 1;
    if (this.random.chance(0.35)) {
      this.midWaveBursts += 1;
      await sleep(this.random.int(150, 400));
    } else {
      await this.settle();
      await sleep(this.random.int(100, 500));
    }
  }

  /** Waits past the debounce window until no wave is running. */
  private async settle(): Promise<void> {
    await sleep(250);
    try {
      await this.tail.waitFor(() => !this.tail.waveInFlight(), 'the running wave to finish', 30_000);
    } catch (error) {
      this.violations.push({ check: 'scenario', message: `a wave did not finish: ${(error as Error).message}` });
    }
  }

  /** Starts a supervisor and waits until every profile's gateway is ready under it; returns how long that took. */
  private async startSupervisor(): Promise<number> {
    const started = Date.now();
    const supervisor = startSupervisorProcess(
      this.fleet.configFile,
      path.join(this.fleet.root, `supervisor-${this.supervisors.length + 1}.out`),
    );
    this.supervisors.push(supervisor);
    const names = this.fleet.profiles.map((profile) => profile.name);
    await this.tail.waitFor(
      (events) => events.some((event) => event.type === 'supervisor.start' && event.pid === supervisor.pid),
      `supervisor ${supervisor.pid} to start`,
      60_000,
    );
    await this.tail.waitFor(
      () => {
        const ready = new Set(this.tail.currentLife().filter((event) => event.type === 'gateway.ready').map((event) => event.profile));
        return names.every((name) => ready.has(name));
      },
      'every gateway to be ready',
      60_000,
    );
    return Date.now() - started;
  }

  /**
   * Replaces the board, waits for the wave that follows to start, and SIGKILLs the supervisor
   * before its wave.done; then starts a new one with the same config.
   */
  private async killSupervisorMidWave(): Promise<void> {
    for (let attempt = 1; attempt <= 6; attempt += 1) {
      this.tail.poll();
      const mark = this.tail.events.length;
      await this.ops.rmRecreate();
      await sleep(40);
      await this.ops.renameOver();
      let waveStart: SupervisorEvent | undefined;
      try {
        await this.tail.waitFor(
          (events) => (waveStart = events.slice(mark).find((event) => event.type === 'wave.start')) !== undefined,
          'a wave to start',
          5000,
        );
      } catch {
        continue;
      }
      await sleep(this.random.int(50, 250));
      this.tail.poll();
      const after = this.tail.events.slice(this.tail.events.indexOf(waveStart!) + 1);
      if (after.some((event) => event.type === 'wave.done')) {
        await this.settle();
        continue;
      }
      await this.killAndRestart(waveStart!, after, attempt);
      return;
    }
    this.violations.push({ check: 'scenario', message: 'could not catch a wave in flight to kill the supervisor in (6 attempts)' });
    // Kill it anyway so the restart path is still exercised.
    this.tail.poll();
    await this.killAndRestart(this.tail.events.at(-1)!, [], 6);
  }

  private async killAndRestart(waveStart: SupervisorEvent, after: SupervisorEvent[], attempts: number): Promise<void> {
    const old = this.supervisor!;
    this.restarting = true;
    try {
      old.child.kill('SIGKILL');
      const killedAt = Date.now();
      await old.exited;
      const liveAfterKill = this.liveGateways();
      let records: unknown = null;
      try {
        records = JSON.parse(readFileSync(path.join(this.fleet.stateDir, 'gateways.json'), 'utf8'));
      } catch (error) {
        records = `unreadable: ${(error as Error).message}`;
      }
      this.tail.poll();
      const mark = this.tail.events.length;
      let readyMs: number | null = null;
      try {
        readyMs = await this.startSupervisor();
      } catch (error) {
        this.violations.push({ check: 'scenario', message: `the restarted supervisor did not bring every gateway up: ${(error as Error).message}` });
      }
      const liveAfterRestart = this.liveGateways();
      this.supervisorKill = {
        at_ms: killedAt,
        pid: old.pid,
        attempts,
        wave_start: waveStart,
        events_after_wave_start: after.map((event) => `${event.type}${event.profile ? `(${String(event.profile)})` : ''}`),
        records,
        live_after_kill: liveAfterKill,
        restart_ready_ms: readyMs,
        leftover_events: this.tail.events.slice(mark).filter((event) => event.type === 'gateway.leftover'),
        live_after_restart: liveAfterRestart,
      };
      await this.checkOnePerProfile(liveAfterRestart);
    } finally {
      this.restarting = false;
    }
  }

  /** Right after the restart: exactly one live process per profile, the one `status` names. */
  private async checkOnePerProfile(live: Record<string, number[]>): Promise<void> {
    const status = await supervisorCli(this.fleet.configFile, ['status', '--json'], 15_000);
    let pids: Record<string, number | null> = {};
    try {
      const parsed = JSON.parse(status.stdout) as { profiles: Array<{ name: string; pid: number | null }> };
      pids = Object.fromEntries(parsed.profiles.map((profile) => [profile.name, profile.pid]));
    } catch {
      this.notes.push(`status --json after the restart was not readable (exit ${status.code}): ${status.stderr.slice(0, 300)}`);
    }
    for (const profile of this.fleet.profiles) {
      const found = live[profile.name] ?? [];
      if (found.length !== 1) {
        this.violations.push({
          check: 'one-gateway-per-profile',
          message: `${profile.name}: ${found.length} live gateway processes right after the supervisor restart (pids ${found.join(', ') || 'none'})`,
          details: { profile: profile.name, pids: found, status_pid: pids[profile.name] ?? null },
        });
      } else if (profile.name in pids && pids[profile.name] !== found[0]) {
        this.notes.push(`${profile.name}: /proc shows pid ${found[0]}, status shows ${pids[profile.name]} (a restart in between?)`);
      }
    }
  }

  private liveGateways(): Record<string, number[]> {
    const found = gatewayProcesses(this.markers);
    return Object.fromEntries(this.fleet.profiles.map((profile) => [profile.name, (found.get(profile.name) ?? []).map(({ pid }) => pid)]));
  }

  /** Every 2.5-5 s, one gateway SIGKILLed. */
  private async killGateways(): Promise<void> {
    while (!this.finished && this.kills.length < this.options.maxGatewayKills) {
      await sleep(this.random.int(2500, 5000));
      if (!this.finished) await this.killOne(false);
    }
  }

  /** A live gateway's pid from `status --json` (a writer's, with `writer`), checked in /proc, then kill -9. */
  private async killOne(writer: boolean): Promise<void> {
    if (this.restarting || !this.supervisor?.running()) return;
    const status = await supervisorCli(this.fleet.configFile, ['status', '--json'], 15_000);
    if (status.code !== 0 || this.restarting) return;
    let profiles: Array<{ name: string; pid: number | null; state: string; grant: boolean }>;
    try {
      profiles = (JSON.parse(status.stdout) as { profiles: typeof profiles }).profiles.filter((profile) => profile.pid !== null && (!writer || profile.grant));
    } catch {
      return;
    }
    if (profiles.length === 0) return;
    const target = this.random.pick(profiles);
    // Only a process that is this profile's gateway right now: the pid may have exited and been reused.
    const live = gatewayProcesses(new Map([[target.name, this.fleet.logFile(target.name)]])).get(target.name) ?? [];
    if (!live.some(({ pid }) => pid === target.pid)) return;
    try {
      process.kill(target.pid!, 'SIGKILL');
      this.kills.push({ profile: target.name, pid: target.pid!, at_ms: Date.now(), state: target.state });
    } catch {
      // Exited in between.
    }
  }

  /** Before the stop: every gateway runs again; a fenced or killed one is never left down. */
  private async checkFleetRunning(): Promise<void> {
    const deadline = Date.now() + 15_000;
    let down: string[] = [];
    do {
      const status = await supervisorCli(this.fleet.configFile, ['status', '--json'], 15_000);
      try {
        const profiles = (JSON.parse(status.stdout) as { profiles: Array<{ name: string; state: string; pid: number | null }> }).profiles;
        down = profiles.filter((profile) => profile.state !== 'running' || profile.pid === null).map((profile) => `${profile.name} (${profile.state})`);
      } catch {
        down = [`status unreadable: exit ${status.code} ${status.stderr.slice(0, 200)}`];
      }
      if (down.length === 0) return;
      await sleep(500);
    } while (Date.now() < deadline);
    this.violations.push({ check: 'fleet-running-at-end', message: `gateways not running 15 s after the last action: ${down.join(', ')}` });
  }

  private async stopFinal(): Promise<void> {
    const supervisor = this.supervisor!;
    const started = Date.now();
    const result = await stopSupervisor(supervisor, 45_000);
    const exit = await supervisor.exited;
    this.finalStop = { result, code: exit.code, signal: exit.signal, ms: Date.now() - started };
    if (result === 'killed' || exit.code !== 0) {
      this.violations.push({
        check: 'scenario',
        message: `the supervisor did not stop cleanly on SIGTERM (${result}, code ${exit.code}, signal ${exit.signal})`,
      });
    }
    // Kanban workers outlive the supervisor's stop by design and end with their task: waited for
    // here, so one still running afterwards is a leftover like any other process.
    const deadline = Date.now() + WORKER_END_MS;
    while (processesNaming(this.fleet.root).some((process) => isWorker(process.cmdline.split(' '))) && Date.now() < deadline) await sleep(250);
  }
}
