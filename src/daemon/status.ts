import { ageSeconds, bootTime, scanWorkers, workerBoard, workerProfile } from '../board/index.js';
import type { StatusReport } from '../control/index.js';
import { healthOf, journalModeOf, type AuditSummary, type BoardSteward, type WalRiskWatch } from '../steward/index.js';
import type { Fleet, HeartbeatWatch } from '../fleet/index.js';
import type { FleetPlan } from '../plan/index.js';
import { byText, redactDeep } from '../util/index.js';

/** What `status` reports: the supervisor, each board, each profile and service, and the kanban workers alive now. */
export function statusReport(input: {
  startedAt: Date;
  plan: FleetPlan;
  fleet: Fleet;
  steward: BoardSteward;
  heartbeats: HeartbeatWatch;
  walRisk: WalRiskWatch;
}): StatusReport {
  const { plan, fleet, steward } = input;
  const audit: AuditSummary | null = steward.lastAudit;
  const firstBoard = steward.boards.values().next().value;
  const boards = [...steward.boards.values()];
  const boot = bootTime();
  const now = Date.now();
  // Exit errors and restart reasons are free text: no secret may leave through status.
  return redactDeep({
    supervisor: { pid: process.pid, started_at: input.startedAt.toISOString(), config: plan.config.file, state_dir: plan.config.state_dir },
    boards: boards.map((board) => ({
      slug: board.slug,
      path: board.path,
      generation: board.generation,
      dev: board.identity?.dev ?? null,
      ino: board.identity?.ino ?? null,
      holders: new Set(audit?.holders.filter((holder) => holder.board === board.slug).map((holder) => holder.pid)).size,
      health: healthOf(board),
      journal_mode: journalModeOf(board),
      wal_reset_risk: input.walRisk.known(board),
    })),
    profiles: plan.profiles.map((profile) => {
      const gateway = fleet.get(profile.name);
      const up = gateway?.pid && gateway.startedAt ? Math.round((Date.now() - gateway.startedAt) / 1000) : null;
      return {
        name: profile.name,
        kind: profile.role === 'service' ? ('service' as const) : ('gateway' as const),
        state: gateway ? (gateway.fenced ? 'fenced' : gateway.held ? 'stopped' : gateway.state) : profile.role === 'hosted' ? 'hosted' : 'disabled',
        pid: gateway?.pid ?? null,
        grant: profile.grant,
        grant_reason: profile.grant_reason,
        // The generation of the first board it was spawned on; none for a gateway denied the boards.
        generation: firstBoard?.spawnedOn.get(profile.name) ?? null,
        restarts: gateway?.restarts ?? 0,
        last_exit: gateway?.lastExit ?? null,
        last_restart_reason: gateway?.lastRestartReason ?? null,
        uptime_s: up,
        heartbeat: gateway ? input.heartbeats.look(gateway) : null,
        folded: gateway?.folded ?? null,
        output_dropped: fleet.droppedLines(profile.name),
      };
    }),
    workers: scanWorkers(plan.config.state_dir)
      .map((worker) => ({
        board: workerBoard(worker.db, boards),
        task: worker.task,
        run_id: worker.runId,
        // A service shares the Hermes root with the default profile: a worker there is the profile's.
        profile: workerProfile(worker.home, plan.profiles.filter((profile) => profile.role !== 'service'), plan.config.hermes_home),
        pid: worker.pid,
        age_s: ageSeconds(worker.startTime, boot, now),
      }))
      .sort((a, b) => byText(a.board ?? '', b.board ?? '') || byText(a.task, b.task) || a.pid - b.pid),
  });
}
