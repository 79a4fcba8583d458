import { z } from 'zod';
import { argv, bool, envMap } from '../config/index.js';
import { readStandalone } from '../hermes/index.js';

interface KanbanKeys {
  enabled?: boolean;
  dispatch_in_gateway?: boolean;
  notify_in_gateway?: boolean;
}

const optionalBool = bool.nullish().transform((value) => value ?? undefined);

/**
 * The parts of a Hermes profile config the supervisor reads. Hermes configs hold many other keys,
 * which are left alone; only the `supervisor:` block is ours and so strict.
 */
export const profileSchema = z.looseObject({
  kanban: z
    .looseObject({
      enabled: optionalBool,
      dispatch_in_gateway: optionalBool,
      notify_in_gateway: optionalBool,
    }, { error: 'expected a mapping' })
    .nullish()
    .transform((value): KanbanKeys => value ?? {}),
  // Hermes's own key, read as Hermes reads it (a truthy token): whatever else is there is Hermes's business.
  gateway: z.unknown().optional().transform((value) => ({ standalone: readStandalone(value) })),
  supervisor: z
    .strictObject({
      enabled: bool.default(true),
      command: argv.optional(),
      env: envMap.prefault({}),
      priority: z.number({ error: 'expected a whole number' }).int('expected a whole number').default(100),
      ready_from: z.enum(['state_file', 'timer'], { error: 'expected "state_file" or "timer"' }).optional(),
    }, { error: 'expected a mapping' })
    .nullish()
    .transform((value) => value ?? { enabled: true, env: {}, priority: 100, command: undefined, ready_from: undefined }),
}, { error: 'expected a mapping at the top of the profile config' });

export type ProfileSettings = z.output<typeof profileSchema>;
