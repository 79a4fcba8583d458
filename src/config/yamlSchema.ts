import { readFileSync } from 'node:fs';
import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, isMap, isScalar, parseDocument, type Document } from 'yaml';
import * as v from 'valibot';
import { UNKNOWN_KEY, issuePath } from './fields.js';
import { keyPath, type ConfigIssue } from './issues.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] };

/** Reads a YAML file and validates it against a schema; every issue names the file, line and key. */
export function loadYamlFile<S extends v.GenericSchema>(file: string, schema: S): Parsed<v.InferOutput<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, issues: [{ file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }] };
  }
  return parseYamlText(file, text, schema);
}

export function parseYamlText<S extends v.GenericSchema>(file: string, text: string, schema: S): Parsed<v.InferOutput<S>> {
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
  const result = v.safeParse(schema, data);
  if (result.success) return { ok: true, value: result.output };
  return { ok: false, issues: result.issues.map((issue) => describeIssue(file, doc, lineCounter, schema, issue, data)) };
}

function describeIssue(
  file: string,
  doc: Document,
  lineCounter: LineCounter,
  schema: v.GenericSchema,
  issue: v.BaseIssue<unknown>,
  data: unknown,
): ConfigIssue {
  const lineOf = (path: PropertyKey[], key?: string) => {
    const offset = nodeOffset(doc, path, key);
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  };
  const path = issuePath(issue);
  if (issue.message === UNKNOWN_KEY) {
    const where = path.slice(0, -1);
    const key = String(path.at(-1));
    const known = knownKeys(schema, where);
    const suggestion = known.length > 0 ? closest(key, known) : undefined;
    const hint = suggestion && similar(key, suggestion) ? ` (did you mean "${suggestion}"?)` : '';
    return { file, line: lineOf(where, key), key: keyPath(path), message: `unknown key${hint}; expected one of: ${known.join(', ')}` };
  }
  // A wrong type where nothing was given: a missing key.
  const message = issue.kind === 'schema' && valueAt(data, path) === undefined ? 'is required' : issue.message.replace(/^Invalid input: /, '');
  return { file, line: lineOf(path), key: path.length > 0 ? keyPath(path) : undefined, message };
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

/** The parts of a valibot schema that say which keys it accepts. */
interface SchemaShape {
  kind: string;
  type: string;
  entries?: Record<string, SchemaShape>;
  wrapped?: SchemaShape;
  pipe?: SchemaShape[];
  value?: SchemaShape;
}

/** The keys an object schema accepts at `path`, seen through optional and piped wrappers. */
function knownKeys(schema: v.GenericSchema, path: PropertyKey[]): string[] {
  let node = unwrap(schema as SchemaShape);
  for (const part of path) {
    // A map keyed by name (services): every entry has the value's keys.
    if (node.type === 'record' && node.value) {
      node = unwrap(node.value);
      continue;
    }
    if (!node.entries || typeof part !== 'string' || !Object.hasOwn(node.entries, part)) return [];
    node = unwrap(node.entries[part]!);
  }
  return Object.keys(node.entries ?? {});
}

function unwrap(node: SchemaShape): SchemaShape {
  let current = node;
  for (;;) {
    if (current.pipe) {
      // The last schema of a pipe shapes the value: the ones before it only check what it is given (a map, not a list).
      current = current.pipe.findLast((item) => item.kind === 'schema')!;
    } else if (current.wrapped) {
      current = current.wrapped;
    } else {
      return current;
    }
  }
}
