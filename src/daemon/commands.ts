import { ControlError, type CommandHandler } from '../control/index.js';
import { HOLD, type Gateway } from '../fleet/index.js';
import { kanbanInit } from './kanbanInit.js';
import { statusReport } from './status.js';
import { ReloadRejected, type Supervisor } from './supervisor.js';

const strings = (value: unknown, name: string): string[] => {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new ControlError('bad_request', `"${name}" must be a list of strings`);
  }
  return value as string[];
};

/** The gateways named, or an error naming every unknown one. */
function named(supervisor: Supervisor, names: string[]): Gateway[] {
  const unknown = names.filter((name) => !supervisor.fleet.get(name));
  if (unknown.length > 0) {
    const known = [...supervisor.fleet.gateways.keys()].join(', ') || 'none';
    throw new ControlError('unknown_profile', `unknown profile${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (running profiles: ${known})`);
  }
  return names.map((name) => supervisor.fleet.get(name)!);
}

/** The control socket's commands, each a thin call into the supervisor. */
export function commandHandlers(supervisor: Supervisor): Record<string, CommandHandler> {
  return {
    status: async () =>
      statusReport({ startedAt: supervisor.startedAt, plan: supervisor.plan, fleet: supervisor.fleet, steward: supervisor.steward }),

    restart: async (args) => {
      const all = args.all === true;
      const stale = args.stale === true;
      let profiles = named(supervisor, strings(args.profiles, 'profiles')).map((gateway) => gateway.name);
      if (all) {
        // After an operator fixed a board held by on_corruption: stop, or before an upgrade's restart:
        // release held boards and run the staged init once per board before the wave.
        supervisor.care.release();
        await supervisor.initBoards('restart --all');
        profiles = [...supervisor.fleet.gateways.keys()];
      }
      if (stale) profiles.push(...supervisor.staleProfiles());
      profiles = [...new Set(profiles)];
      if (profiles.length === 0 && !stale) throw new ControlError('bad_request', 'name profiles to restart, or pass --all or --stale');
      const reason = typeof args.reason === 'string' && args.reason.trim() ? args.reason.trim() : 'manual';
      const wave = supervisor.waves.request({ profiles, reason, immediate: true });
      if (args.wait === false) return { profiles, reason, waiting: false };
      const result = profiles.length > 0 ? await wave : null;
      return { profiles, reason, restarted: result?.restarted ?? [], failed: result?.failed ?? [], vetoed: result?.vetoed ?? [], skipped: result?.skipped ?? [], duration_ms: result?.durationMs ?? 0 };
    },

    stop: async (args) => {
      const gateways = named(supervisor, strings(args.profiles, 'profiles'));
      if (gateways.length === 0) throw new ControlError('bad_request', 'name the profiles to stop');
      for (const gateway of gateways) gateway.hold(HOLD.operator);
      await Promise.all(gateways.map((gateway) => gateway.stop()));
      return { stopped: gateways.map((gateway) => gateway.name) };
    },

    start: async (args) => {
      const gateways = named(supervisor, strings(args.profiles, 'profiles'));
      if (gateways.length === 0) throw new ControlError('bad_request', 'name the profiles to start');
      const blocked: string[] = [];
      for (const gateway of gateways) {
        gateway.release(HOLD.operator);
        // A gateway held for a board's maintenance starts when that is done, not before.
        if (gateway.held) blocked.push(`${gateway.name} (held: ${[...gateway.holds].join(', ')})`);
        else gateway.start('operator');
      }
      const startable = gateways.filter((gateway) => !gateway.held);
      const ready = await Promise.all(startable.map((gateway) => gateway.waitReady()));
      return {
        started: startable.filter((_, index) => ready[index]).map((g) => g.name),
        failed: [...startable.filter((_, index) => !ready[index]).map((g) => g.name), ...blocked],
      };
    },

    shutdown: async () => {
      supervisor.shutdownRequestedBy = 'shutdown command';
      // Reply first: closing the socket waits for open connections. The signal takes the same path as systemd's stop.
      setImmediate(() => process.kill(process.pid, 'SIGTERM'));
      return { stopping: true, pid: process.pid };
    },

    reload: async () => {
      try {
        const diff = await supervisor.reload();
        return { added: diff.added.map((profile) => profile.name), removed: diff.removed, changed: diff.changed.map((profile) => profile.name) };
      } catch (err) {
        if (err instanceof ReloadRejected) throw new ControlError('reload_rejected', `config rejected, fleet untouched: ${err.message}`);
        throw err;
      }
    },

    check: async (args) => {
      const report = await supervisor.check(args.full === true);
      return {
        audit_ms: Math.round(report.auditMs * 1000) / 1000,
        holders: report.holders,
        stale: report.stale,
        violations: report.violations,
        foreign: report.foreign,
        integrity: report.integrity.map(({ board, probe }) => ({ board, status: probe.status, detail: probe.detail, duration_ms: Math.round(probe.durationMs) })),
      };
    },

    kanban_init: async (args) => kanbanInit(supervisor, typeof args.board === 'string' ? args.board : 'default'),
  };
}
