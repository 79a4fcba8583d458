import { readFileSync } from 'node:fs';
import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, isMap, isScalar, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { keyPath, type ConfigIssue } from './issues.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] };

/** Reads a YAML file and validates it against a zod schema; every issue names the file, line and key. */
export function loadYamlFile<S extends z.ZodType>(file: string, schema: S): Parsed<z.output<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, issues: [{ file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }] };
  }
  return parseYamlText(file, text, schema);
}

export function parseYamlText<S extends z.ZodType>(file: string, text: string, schema: S): Parsed<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((err) => ({
        file,
        line: err.linePos?.[0].line ?? lineCounter.linePos(err.pos[0]).line,
        message: `invalid YAML: ${err.message.split('\n')[0]}`,
      })),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (err) {
    // Alias expansion past the yaml library's limit (a "billion laughs" file) throws here, not at parse.
    return { ok: false, issues: [{ file, message: `invalid YAML: ${(err as Error).message}` }] };
  }
  const result = schema.safeParse(data);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: result.error.issues.flatMap((issue) => describeIssue(file, doc, lineCounter, schema, issue, data)) };
}

function describeIssue(
  file: string,
  doc: Document,
  lineCounter: LineCounter,
  schema: z.ZodType,
  issue: z.core.$ZodIssue,
  data: unknown,
): ConfigIssue[] {
  const lineOf = (path: PropertyKey[], key?: string) => {
    const offset = nodeOffset(doc, path, key);
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  };
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, issue.path);
    return issue.keys.map((key) => {
      const suggestion = known.length > 0 ? closest(key, known) : undefined;
      const hint = suggestion && similar(key, suggestion) ? ` (did you mean "${suggestion}"?)` : '';
      return {
        file,
        line: lineOf(issue.path, key),
        key: keyPath([...issue.path, key]),
        message: `unknown key${hint}; expected one of: ${known.join(', ')}`,
      };
    });
  }
  const path = issue.path;
  const message = issue.code === 'invalid_type' && valueAt(data, path) === undefined ? 'is required' : issue.message.replace(/^Invalid input: /, '');
  return [{ file, line: lineOf(path), key: path.length > 0 ? keyPath(path) : undefined, message }];
}

function similar(a: string, b: string): boolean {
  return distance(a, b) <= Math.max(2, Math.floor(Math.max(a.length, b.length) / 3));
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let current = data;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

/** Offset of the node at `path` (or of the key `key` inside it), for line numbers in messages. */
function nodeOffset(doc: Document, path: PropertyKey[], key?: string): number | undefined {
  const target = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
  if (key !== undefined && isMap(target)) {
    const pair = target.items.find((item) => isScalar(item.key) && item.key.value === key);
    const keyNode = pair?.key as { range?: [number, number, number] } | undefined;
    if (keyNode?.range) return keyNode.range[0];
  }
  const node = target as { range?: [number, number, number] } | null | undefined;
  if (node?.range) return node.range[0];
  return path.length > 0 ? nodeOffset(doc, path.slice(0, -1)) : undefined;
}

interface ZodInternals {
  _zod: { def: { type: string; innerType?: unknown; in?: unknown; shape?: Record<string, unknown>; valueType?: unknown } };
}

/** The keys an object schema accepts at `path`, seen through optional/default/transform wrappers. */
function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let node = unwrap(schema as unknown as ZodInternals);
  for (const part of path) {
    // A map keyed by name (services): every entry has the value's keys.
    if (node?._zod.def.type === 'record') {
      node = unwrap(node._zod.def.valueType as ZodInternals);
      continue;
    }
    const shape = node?._zod.def.shape;
    if (!shape || typeof part !== 'string' || !(part in shape)) return [];
    node = unwrap(shape[part] as ZodInternals);
  }
  return Object.keys(node?._zod.def.shape ?? {});
}

function unwrap(node: ZodInternals | undefined): ZodInternals | undefined {
  let current = node;
  for (let depth = 0; current && depth < 8; depth++) {
    const def = current._zod.def;
    const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!inner) break;
    current = inner as ZodInternals;
  }
  return current;
}
