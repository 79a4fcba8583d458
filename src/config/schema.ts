import * as v from 'valibot';
import { DASHBOARD_COMMAND, DASHBOARD_SERVICE, isValidBoardSlug, isValidProfileName } from '../hermes/index.js';
import { argv, bool, count, duration, durationOrOff, envMap, expected, namedMap, nonEmptyString, oneOf, pathTo, size, strictMap, typeError } from './fields.js';

const BOARD_PATH = 'expected a path to the board file';

const boardEntry = strictMap({
  slug: v.pipe(v.string(typeError('string')), v.check(isValidBoardSlug, 'expected a board slug: lowercase letters, digits, "-" and "_", at most 64')),
  path: v.pipe(v.string(BOARD_PATH), v.minLength(1, BOARD_PATH)),
});

const hook = v.optional(argv);

/** One supervised Hermes process beside the gateways (the dashboard): its command, its grant, its stop budget. */
const serviceEntry = strictMap(
  {
    command: v.optional(argv),
    // Least privilege, as for profiles: board access only when asked for.
    kanban: v.optional(bool, false),
    env: v.optional(envMap, {}),
    stop_timeout: v.optional(duration),
    // A service writes no gateway_state.json: the timer is its only readiness.
    ready_from: v.optional(v.literal('timer', expected('expected "timer" (a service writes no gateway_state.json)')), 'timer'),
  },
  'expected a map with command, kanban, env, stop_timeout or ready_from',
);

const SERVICE_NAME_RULE = 'lowercase letters, digits, "-" and "_", at most 64, not starting with "-" or "_"';

/** Services by name; a name reaches paths and logs, so it follows Hermes's profile naming rule. */
const services = v.pipe(
  namedMap(v.record(v.string(), serviceEntry), 'expected a map of service names to {command, kanban, env, stop_timeout, ready_from}'),
  v.rawCheck<Record<string, v.InferOutput<typeof serviceEntry>>>(({ dataset, addIssue }) => {
    // Names are looked at once every entry is of the right shape.
    if (!dataset.typed) return;
    const entries = dataset.value;
    for (const [name, entry] of Object.entries(entries)) {
      if (!isValidProfileName(name)) {
        addIssue({ path: pathTo(entries, name), message: `is not a valid service name: expected ${SERVICE_NAME_RULE}` });
      } else if (name === 'default') {
        addIssue({ path: pathTo(entries, name), message: 'names the default profile (the Hermes root); expected another service name' });
      } else if (entry.command === undefined && name !== DASHBOARD_SERVICE) {
        addIssue({
          path: pathTo(entries, name, 'command'),
          message: `is required: only the "${DASHBOARD_SERVICE}" service has a default (${DASHBOARD_COMMAND.join(' ')})`,
        });
      }
    }
  }),
);

/** The supervisor's YAML config. Durations are parsed to milliseconds and sizes to bytes; a default is read as if written. */
export const supervisorSchema = strictMap({
  hermes_home: v.optional(nonEmptyString),
  profiles_dir: v.optional(nonEmptyString),
  state_dir: v.optional(nonEmptyString),
  // Hermes 0.21 runs one multiplexing gateway per host; `per-profile` keeps a gateway per profile (its standalone shim).
  topology: v.optional(v.picklist(['per-profile', 'host'], expected('expected "per-profile" or "host"')), 'per-profile'),
  gateway: strictMap({
    command: argv,
    env: v.optional(envMap, {}),
    cwd: v.optional(nonEmptyString),
  }),
  restart: v.optional(
    strictMap({
      // Hermes's own unit gives a gateway 70 s to stop (its drain, cron drain and shutdown watchdog): plus slack.
      stop_timeout: v.optional(duration, '75s'),
      ready_after: v.optional(duration, '3s'),
      ready_from: v.optional(oneOf(['state_file', 'timer']), 'state_file'),
      max_parallel: v.optional(count(1), 1),
      // Fenced gateways are already down: they come back together, this many starting at once.
      fenced_parallel: v.optional(count(1), 32),
      debounce: v.optional(duration, '250ms'),
      on_swap: v.optional(oneOf(['stale', 'granted']), 'stale'),
      backoff: v.optional(
        strictMap({
          initial: v.optional(duration, '1s'),
          max: v.optional(duration, '60s'),
          reset_after: v.optional(duration, '60s'),
        }),
        {},
      ),
      give_up: v.optional(
        strictMap({
          crashes: v.optional(count(1), 5),
          within: v.optional(duration, '60s'),
        }),
        {},
      ),
    }),
    {},
  ),
  kanban: v.optional(
    strictMap({
      boards: v.optional(v.union([v.literal('auto'), v.array(boardEntry)], 'expected "auto" or a list of {slug, path}'), 'auto'),
      init_command: v.optional(argv),
      init_timeout: v.optional(duration, '10m'),
      quarantine_keep: v.optional(count(1), 10),
      on_corruption: v.optional(oneOf(['rebuild', 'stop']), 'rebuild'),
      wal_limit: v.optional(size, '64M'),
      allow_network_fs: v.optional(bool, false),
    }),
    {},
  ),
  health: v.optional(
    strictMap({
      poll_interval: v.optional(duration, '2s'),
      watch: v.optional(bool, true),
      integrity_interval: v.optional(duration, '10m'),
      audit_interval: v.optional(duration, '60s'),
      // Hermes calls a gateway_state.json older than 120 s stale; 0 turns the check off.
      heartbeat_stale_after: v.optional(durationOrOff, '120s'),
    }),
    {},
  ),
  hooks: v.optional(
    strictMap({
      pre_restart: hook,
      post_restart: hook,
      on_swap: hook,
      on_corruption: hook,
      on_give_up: hook,
      on_violation: hook,
      timeout: v.optional(duration, '30s'),
    }),
    {},
  ),
  services: v.optional(services, {}),
  control: v.optional(strictMap({ socket: v.optional(nonEmptyString) }), {}),
  logs: v.optional(
    strictMap({
      max_size: v.optional(v.pipe(v.string(typeError('string')), v.regex(/^[1-9]\d*[KMG]$/, 'expected a size like "512K", "10M" or "1G"')), '10M'),
      keep: v.optional(count(1), 5),
    }),
    {},
  ),
});

export type RawSupervisorConfig = v.InferOutput<typeof supervisorSchema>;
