import * as v from 'valibot';
import { argv, bool, envMap, finiteNumber, map, strictMap } from '../config/index.js';
import { readStandalone } from '../hermes/index.js';

interface KanbanKeys {
  enabled?: boolean;
  dispatch_in_gateway?: boolean;
  notify_in_gateway?: boolean;
}

const optionalBool = v.pipe(
  v.nullish(bool),
  v.transform((value) => value ?? undefined),
);

const supervisorBlock = strictMap(
  {
    enabled: v.optional(bool, true),
    command: v.optional(argv),
    env: v.optional(envMap, {}),
    priority: v.optional(v.pipe(finiteNumber('expected a whole number'), v.safeInteger('expected a whole number')), 100),
    ready_from: v.optional(v.picklist(['state_file', 'timer'], 'expected "state_file" or "timer"')),
  },
  'expected a mapping',
);

/**
 * The parts of a Hermes profile config the supervisor reads. Hermes configs hold many other keys,
 * which are left alone; only the `supervisor:` block is ours and so strict.
 */
export const profileSchema = v.pipe(
  map(
    v.looseObject({
      kanban: v.nullish(map(v.looseObject({ enabled: optionalBool, dispatch_in_gateway: optionalBool, notify_in_gateway: optionalBool }), 'expected a mapping')),
      // Hermes's own key, read as Hermes reads it (a truthy token): whatever else is there is Hermes's business.
      gateway: v.optional(v.unknown()),
      supervisor: v.nullish(supervisorBlock),
    }),
    'expected a mapping at the top of the profile config',
  ),
  // Each of the three is read even when left out (or empty).
  v.transform(({ kanban, gateway, supervisor, ...rest }) => {
    const keys: KanbanKeys = kanban ?? {};
    return {
      kanban: keys,
      gateway: { standalone: readStandalone(gateway) },
      supervisor: supervisor ?? { enabled: true, env: {}, priority: 100, command: undefined, ready_from: undefined },
      ...rest,
    };
  }),
);

export type ProfileSettings = v.InferOutput<typeof profileSchema>;
