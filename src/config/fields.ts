import * as v from 'valibot';
import { RESERVED_ENV_KEYS } from '../hermes/index.js';
import { describeValue, parseDuration, parseSize } from '../util/index.js';

type Message = v.ErrorMessage<v.BaseIssue<unknown>>;

/** An error message saying what was expected and echoing what was found. */
export const expected = (what: string) => (issue: { input: unknown }) => `${what}, got ${JSON.stringify(issue.input) ?? String(issue.input)}`;

/** The message of a wrong type where no message of our own is given, worded as it always was ("Invalid input: expected string, received number"). */
export const typeError = (what: string) => (issue: { input: unknown }) => `Invalid input: expected ${what}, received ${typeName(issue.input)}`;

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}

/** A string, not empty. */
export const nonEmptyString = v.pipe(v.string(typeError('string')), v.minLength(1, 'Too small: expected string to have >=1 characters'));

/** One of a few strings, all named in the message when another is given. */
export const oneOf = <const T extends readonly [string, ...string[]]>(options: T) =>
  v.picklist(options, `Invalid option: expected one of ${options.map((option) => `"${option}"`).join('|')}`);

/** A number that is finite: YAML's .inf and .nan are not numbers of a config. */
export const finiteNumber = (message?: Message) => v.custom<number>((value) => typeof value === 'number' && Number.isFinite(value), message);

const isMap = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The message of a key the schema does not know; the reports of issues name the key and the keys expected. */
export const UNKNOWN_KEY = 'unknown key';

// A failed check rather than a type error, so an unknown key leaves the checks around it running (a service's name, a board list's entries).
const unknownKey = v.pipe(v.unknown(), v.check(() => false, UNKNOWN_KEY));

/** Keys valibot's objects and records pass over, as they could reach a prototype. */
const HIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

/** Refuses the hidden keys by name, before the entries are read (an issue here stops them): such a key is reported alone. */
const refuseHiddenKeys = <T>(message: string) =>
  v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const value = dataset.value as Record<string, unknown>;
    for (const key of Object.keys(value)) {
      if (HIDDEN_KEYS.includes(key)) addIssue({ message, path: pathTo(value, key) });
    }
  });

/** `schema` (an object or record) given a map only: valibot's objects and records also take a list, by index. */
export const map = <S extends v.GenericSchema>(schema: S, message: Message) => v.pipe(v.custom<v.InferInput<S>>(isMap, message), schema);

/** A map keyed by names the operator picks (environment variables, services): a hidden key is refused, never dropped unseen. */
export const namedMap = <S extends v.GenericSchema>(schema: S, message: Message) =>
  v.pipe(v.custom<v.InferInput<S>>(isMap, message), refuseHiddenKeys<v.InferInput<S>>('expected another name: __proto__, constructor and prototype cannot be used'), schema);

/** A map with these keys only: each other key is an issue of its own. */
export function strictMap<const E extends v.ObjectEntries>(entries: E, message: Message = typeError('object')) {
  // valibot reports a missing key with the map's message: the key's own schema says what it expects, as of nothing given.
  const missing = (issue: v.BaseIssue<unknown>) => {
    const key = issue.path?.[0]?.key as keyof E;
    return v.safeParse(entries[key]!, undefined).issues?.[0].message ?? issue.message;
  };
  const schema = v.pipe(
    v.custom<Record<string, unknown>>(isMap, message),
    refuseHiddenKeys<Record<string, unknown>>(UNKNOWN_KEY),
    v.objectWithRest(entries, unknownKey, missing),
  );
  // Every key but the entries is refused, so what passes has the entries' keys only.
  return schema as unknown as v.GenericSchema<v.InferInput<v.ObjectSchema<E, undefined>>, v.InferOutput<v.ObjectSchema<E, undefined>>>;
}

/** The path of an issue as keys and indexes. */
export const issuePath = (issue: v.BaseIssue<unknown>): PropertyKey[] => issue.path?.map((item) => item.key as PropertyKey) ?? [];

/** The path of an issue a check finds at `keys` inside the map it checks. */
export function pathTo(value: Record<string, unknown>, ...keys: [string, ...string[]]): [v.IssuePathItem, ...v.IssuePathItem[]] {
  let input = value;
  return keys.map((key) => {
    const item = { type: 'object', origin: 'value', input, key, value: input[key] } as const;
    input = input[key] as Record<string, unknown>;
    return item;
  }) as [v.IssuePathItem, ...v.IssuePathItem[]];
}

/** A string parsed to a number by `parse`; `what` names what was expected when it cannot be. */
const parsedString = (typeMessage: string, what: string, parse: (text: string) => number | null) =>
  v.pipe(
    v.string(typeMessage),
    v.rawTransform<string, number>(({ dataset, addIssue, NEVER }) => {
      const value = parse(dataset.value);
      if (value === null) {
        addIssue({ message: `${what}, got ${describeValue(dataset.value)}` });
        return NEVER;
      }
      return value;
    }),
  );

/** A duration string ("250ms", "10s", "5m"), parsed to milliseconds. */
export const duration = parsedString('expected a duration string like "250ms", "10s" or "5m"', 'expected a duration like "250ms", "10s" or "5m"', parseDuration);

/** A duration, or a bare 0 (YAML's number or the text "0") for "off". */
export const durationOrOff = v.pipe(
  v.unknown(),
  v.transform((value) => (value === 0 || value === '0' ? '0s' : value)),
  duration,
);

/** A size string ("512K", "10M", "1G"), parsed to bytes. */
export const size = parsedString('expected a size string like "512K", "10M" or "1G"', 'expected a size like "512K", "10M" or "1G"', parseSize);

export const count = (min: number) => {
  const message = `expected a whole number >= ${min}`;
  return v.pipe(finiteNumber(expected(message)), v.check((value) => Number.isSafeInteger(value) && value >= min, message));
};

/** A command as an argv array: never a shell string. */
export const argv = v.pipe(
  v.array(v.pipe(v.string('expected each argument to be a string'), v.minLength(1, 'expected a non-empty argument')), 'expected a command as a list of strings (argv), e.g. ["hermes", "-p", "{profile}", "gateway", "run"]'),
  v.minLength(1, 'expected at least the program to run'),
);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const envValue = v.pipe(
  v.union([v.string(), finiteNumber(), v.boolean()], 'expected a string, number or boolean value'),
  v.transform(String),
);

/** Environment variables for a gateway; scalars are turned into strings, grant variables are refused. */
export const envMap = v.pipe(
  namedMap(v.record(v.string(), envValue), 'expected a map of environment variable names to values'),
  v.rawCheck<Record<string, string>>(({ dataset, addIssue }) => {
    // Names are looked at once every value is right.
    if (!dataset.typed) return;
    const env = dataset.value;
    for (const name of Object.keys(env)) {
      if (!ENV_NAME.test(name)) {
        addIssue({ path: pathTo(env, name), message: 'expected an environment variable name (letters, digits, _)' });
      } else if (RESERVED_ENV_KEYS.has(name)) {
        addIssue({ path: pathTo(env, name), message: 'is set by the supervisor (from the kanban grant, to find its gateways, or as Hermes\'s supervised-gateway marker) and cannot be overridden' });
      }
    }
  }),
);

export const bool = v.boolean(expected('expected true or false'));
