import { z } from 'zod';
import { RESERVED_ENV_KEYS } from '../hermes/index.js';
import { describeValue, parseDuration, parseSize } from '../util/index.js';

/** An error message saying what was expected and echoing what was found. */
export const expected = (what: string) => (issue: { input?: unknown }) => `${what}, got ${JSON.stringify(issue.input) ?? String(issue.input)}`;

/** A duration string ("250ms", "10s", "5m"), parsed to milliseconds. */
export const duration = z.string({ error: 'expected a duration string like "250ms", "10s" or "5m"' }).transform((text, ctx) => {
  const value = parseDuration(text);
  if (value === null) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "250ms", "10s" or "5m", got ${describeValue(text)}` });
    return z.NEVER;
  }
  return value;
});

/** A duration, or a bare 0 (YAML's number or the text "0") for "off". */
export const durationOrOff = z.preprocess((value) => (value === 0 || value === '0' ? '0s' : value), duration);

/** A size string ("512K", "10M", "1G"), parsed to bytes. */
export const size = z.string({ error: 'expected a size string like "512K", "10M" or "1G"' }).transform((text, ctx) => {
  const value = parseSize(text);
  if (value === null) {
    ctx.addIssue({ code: 'custom', message: `expected a size like "512K", "10M" or "1G", got ${describeValue(text)}` });
    return z.NEVER;
  }
  return value;
});

export const count = (min: number) =>
  z.number({ error: expected(`expected a whole number >= ${min}`) }).int(`expected a whole number >= ${min}`).min(min, `expected a whole number >= ${min}`);

/** A command as an argv array: never a shell string. */
export const argv = z
  .array(z.string({ error: 'expected each argument to be a string' }).min(1, 'expected a non-empty argument'), {
    error: 'expected a command as a list of strings (argv), e.g. ["hermes", "-p", "{profile}", "gateway", "run"]',
  })
  .min(1, 'expected at least the program to run');

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Environment variables for a gateway; scalars are turned into strings, grant variables are refused. */
export const envMap = z
  .record(
    z.string(),
    z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean value' }).transform(String),
    { error: 'expected a map of environment variable names to values' },
  )
  .superRefine((env, ctx) => {
    for (const name of Object.keys(env)) {
      if (!ENV_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'expected an environment variable name (letters, digits, _)' });
      } else if (RESERVED_ENV_KEYS.has(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'is set by the supervisor (from the kanban grant, to find its gateways, or as Hermes\'s supervised-gateway marker) and cannot be overridden' });
      }
    }
  });

export const bool = z.boolean({ error: expected('expected true or false') });
