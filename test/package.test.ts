import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { repoRoot } from './helpers/paths.js';
import { tempDir } from './helpers/tempDir.js';

const run = promisify(execFile);

/** What a fresh clone holds that packing needs; test/ is left out, so only the shipped code is compiled. */
const CHECKOUT = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'bin', 'src', 'supervisor', 'profiles', 'docs'];

interface Lockfile {
  packages: Record<string, { dev?: boolean; link?: boolean }>;
}

/** npm as run by a user: none of the settings the `npm test` around this test exported. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith('npm_') || name.toLowerCase() === 'npm_config_cache') env[name] = value;
  }
  return env;
}

/**
 * A throw-away project whose lockfile holds the production dependencies of the repository's lockfile.
 * With every version and integrity pinned, npm takes each dependency from its cache and asks the
 * registry nothing; a bare `npm install <tgz>` would fetch every dependency's metadata first.
 */
function offlineProject(dir: string): void {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  const root = { name: 'install-check', version: '0.0.0', private: true, dependencies: manifest.dependencies };
  const packages: Record<string, unknown> = { '': root };
  for (const [key, entry] of Object.entries(lock.packages)) if (key !== '' && !entry.dev && !entry.link) packages[key] = entry;
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(root));
  writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ ...root, lockfileVersion: 3, requires: true, packages }));
}

test('npm pack from a clean checkout gives a tarball that installs and runs', async (t) => {
  const tmp = tempDir(t, 'hs-pack-');
  const checkout = path.join(tmp, 'checkout');
  for (const entry of CHECKOUT) cpSync(path.join(repoRoot, entry), path.join(checkout, entry), { recursive: true });
  symlinkSync(realpathSync(path.join(repoRoot, 'node_modules')), path.join(checkout, 'node_modules'));
  const env = npmEnv();

  // prepack compiles: the checkout has no dist/ of its own.
  await run('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: checkout, env });
  const tarball = path.join(tmp, readdirSync(tmp).find((name) => name.endsWith('.tgz'))!);
  const { stdout: listing } = await run('tar', ['-tzf', tarball]);
  const files = listing.split('\n').filter(Boolean).map((file) => file.replace(/^package\//, ''));
  t.true(files.includes('dist/src/cli/index.js'), 'the compiled CLI is shipped');
  t.true(files.includes('dist/bundle/cli/index.js') && files.includes('dist/bundle/cli/probeWorker.js'), 'the bundled CLI and its probe worker are shipped');
  t.true(files.includes('bin/hermes-supervisor.js'));
  t.true(files.includes('supervisor/supervisor.yaml'));
  t.true(files.includes('supervisor/hermes-supervisor.service'));
  t.true(files.includes('LICENSE'));
  t.deepEqual(files.filter((file) => file.startsWith('test/') || file.startsWith('dist/test/')), [], 'no tests');
  t.deepEqual(files.filter((file) => file.endsWith('.ts')), [], 'no TypeScript sources');

  const project = path.join(tmp, 'project');
  offlineProject(project);
  // Install scripts are skipped: better-sqlite3 would compile its addon for a minute and more, and
  // neither --version nor validate opens a database.
  await run('npm', ['install', '--prefix', project, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { env });
  const bin = path.join(project, 'node_modules', '.bin', 'hermes-supervisor');
  const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) t.is((await run(bin, [flag])).stdout.trim(), version);

  const example = path.join(project, 'node_modules', 'hermes-supervisor', 'supervisor', 'supervisor.yaml');
  const validate = await run(bin, ['validate', '--json', '--config', example]);
  const plan = JSON.parse(validate.stdout) as { config: string; profiles: Array<{ name: string }> };
  t.is(plan.config, example);
  t.deepEqual(plan.profiles.map((profile) => profile.name).sort(), ['chat', 'dispatcher', 'research', 'worker']);
});
