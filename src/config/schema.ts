import { z } from 'zod';
import { DASHBOARD_COMMAND, DASHBOARD_SERVICE, isValidBoardSlug, isValidProfileName } from '../hermes/index.js';
import { argv, bool, count, duration, durationOrOff, envMap, expected, size } from './fields.js';

const boardEntry = z.strictObject({
  slug: z.string().refine(isValidBoardSlug, 'expected a board slug: lowercase letters, digits, "-" and "_", at most 64'),
  path: z.string({ error: 'expected a path to the board file' }).min(1),
});

const hook = argv.optional();

/** One supervised Hermes process beside the gateways (the dashboard): its command, its grant, its stop budget. */
const serviceEntry = z.strictObject(
  {
    command: argv.optional(),
    // Least privilege, as for profiles: board access only when asked for.
    kanban: bool.default(false),
    env: envMap.prefault({}),
    stop_timeout: duration.optional(),
    // A service writes no gateway_state.json: the timer is its only readiness.
    ready_from: z.literal('timer', { error: expected('expected "timer" (a service writes no gateway_state.json)') }).default('timer'),
  },
  { error: 'expected a map with command, kanban, env, stop_timeout or ready_from' },
);

const SERVICE_NAME_RULE = 'lowercase letters, digits, "-" and "_", at most 64, not starting with "-" or "_"';

/** Services by name; a name reaches paths and logs, so it follows Hermes's profile naming rule. */
const services = z
  .record(z.string(), serviceEntry, { error: 'expected a map of service names to {command, kanban, env, stop_timeout, ready_from}' })
  .superRefine((entries, ctx) => {
    for (const [name, entry] of Object.entries(entries)) {
      if (!isValidProfileName(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `is not a valid service name: expected ${SERVICE_NAME_RULE}` });
      } else if (name === 'default') {
        ctx.addIssue({ code: 'custom', path: [name], message: 'names the default profile (the Hermes root); expected another service name' });
      } else if (entry.command === undefined && name !== DASHBOARD_SERVICE) {
        ctx.addIssue({
          code: 'custom',
          path: [name, 'command'],
          message: `is required: only the "${DASHBOARD_SERVICE}" service has a default (${DASHBOARD_COMMAND.join(' ')})`,
        });
      }
    }
  });

/** The supervisor's YAML config. Durations are parsed to milliseconds and sizes to bytes. */
export const supervisorSchema = z.strictObject({
  hermes_home: z.string().min(1).optional(),
  profiles_dir: z.string().min(1).optional(),
  state_dir: z.string().min(1).optional(),
  // Hermes 0.21 runs one multiplexing gateway per host; `per-profile` keeps a gateway per profile (its standalone shim).
  topology: z.enum(['per-profile', 'host'], { error: expected('expected "per-profile" or "host"') }).default('per-profile'),
  gateway: z.strictObject({
    command: argv,
    env: envMap.prefault({}),
    cwd: z.string().min(1).optional(),
  }),
  restart: z
    .strictObject({
      // Hermes's own unit gives a gateway 70 s to stop (its drain, cron drain and shutdown watchdog): plus slack.
      stop_timeout: duration.prefault('75s'),
      ready_after: duration.prefault('3s'),
      ready_from: z.enum(['state_file', 'timer']).default('state_file'),
      max_parallel: count(1).default(1),
      // Fenced gateways are already down: they come back together, this many starting at once.
      fenced_parallel: count(1).default(32),
      debounce: duration.prefault('250ms'),
      on_swap: z.enum(['stale', 'granted']).default('stale'),
      backoff: z
        .strictObject({
          initial: duration.prefault('1s'),
          max: duration.prefault('60s'),
          reset_after: duration.prefault('60s'),
        })
        .prefault({}),
      give_up: z
        .strictObject({
          crashes: count(1).default(5),
          within: duration.prefault('60s'),
        })
        .prefault({}),
    })
    .prefault({}),
  kanban: z
    .strictObject({
      boards: z
        .union([z.literal('auto'), z.array(boardEntry)], { error: 'expected "auto" or a list of {slug, path}' })
        .default('auto'),
      init_command: argv.optional(),
      init_timeout: duration.prefault('10m'),
      quarantine_keep: count(1).default(10),
      on_corruption: z.enum(['rebuild', 'stop']).default('rebuild'),
      wal_limit: size.prefault('64M'),
      allow_network_fs: bool.default(false),
    })
    .prefault({}),
  health: z
    .strictObject({
      poll_interval: duration.prefault('2s'),
      watch: bool.default(true),
      integrity_interval: duration.prefault('10m'),
      audit_interval: duration.prefault('60s'),
      // Hermes calls a gateway_state.json older than 120 s stale; 0 turns the check off.
      heartbeat_stale_after: durationOrOff.prefault('120s'),
    })
    .prefault({}),
  hooks: z
    .strictObject({
      pre_restart: hook,
      post_restart: hook,
      on_swap: hook,
      on_corruption: hook,
      on_give_up: hook,
      on_violation: hook,
      timeout: duration.prefault('30s'),
    })
    .prefault({}),
  services: services.default({}),
  control: z.strictObject({ socket: z.string().min(1).optional() }).prefault({}),
  logs: z
    .strictObject({
      max_size: z.string().regex(/^[1-9]\d*[KMG]$/, 'expected a size like "512K", "10M" or "1G"').default('10M'),
      keep: count(1).default(5),
    })
    .prefault({}),
});

export type RawSupervisorConfig = z.output<typeof supervisorSchema>;
