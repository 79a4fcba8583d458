import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Scope } from './scope.js';

/** A fresh directory under the OS temp dir, removed with everything in it when the test ends. */
export function tempDir(t: Scope, prefix = 'hs-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
