import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** Replaces `{profile}` inside each argument. */
export function substituteProfile(command: readonly string[], profile: string): string[] {
  return command.map((arg) => arg.replaceAll('{profile}', profile));
}

/** Where the program of a command would be found, or null when it cannot be run. */
export function resolveProgram(program: string, cwd: string, pathVariable = process.env.PATH ?? ''): string | null {
  if (program.includes('/')) {
    const candidate = path.resolve(cwd, program);
    return isExecutableFile(candidate) ? candidate : null;
  }
  for (const dir of pathVariable.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function isExecutableFile(candidate: string): boolean {
  try {
    if (!statSync(candidate).isFile()) return false;
    accessSync(candidate, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
