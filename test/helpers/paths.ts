import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root, found from the compiled test's location (dist/test/helpers). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
export const cliPath = path.join(repoRoot, 'bin', 'hermes-supervisor.js');

/** The Node flags the CLI's own `#!/usr/bin/env -S node ...` line gives it, so tests run it as installed. */
export const cliNodeFlags = readFileSync(cliPath, 'utf8').split('\n')[0]!.split(/\s+/).slice(3);
