import fs from 'node:fs';
import path from 'node:path';

/**
 * Why `program` cannot be started with this PATH and cwd (ENOENT, EACCES), or null when it can.
 * Checked before spawning so the error names the program even when it is started through a wrapper.
 */
export function programProblem(program: string, env: Record<string, string>, cwd: string | undefined): string | null {
  const candidates = program.includes('/')
    ? [path.resolve(cwd ?? process.cwd(), program)]
    : (env.PATH ?? '').split(':').map((dir) => path.resolve(cwd ?? process.cwd(), dir || '.', program));
  let problem = 'ENOENT';
  for (const candidate of candidates) {
    let stats: fs.Stats;
    try {
      stats = fs.statSync(candidate);
    } catch {
      continue;
    }
    if (!stats.isFile()) {
      problem = 'EACCES';
      continue;
    }
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return null;
    } catch {
      problem = 'EACCES';
    }
  }
  return problem;
}
