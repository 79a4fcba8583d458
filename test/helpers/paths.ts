import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root, found from the compiled test's location (dist/test/helpers). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
export const cliPath = path.join(repoRoot, 'bin', 'hermes-supervisor.js');
