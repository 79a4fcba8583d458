import path from 'node:path';

/** What a Hermes gateway's command line says about it. */
export interface GatewayCommand {
  /** The profile named by `-p`/`--profile`; null when none is named (Hermes then serves its root, or HERMES_HOME). */
  profile: string | null;
}

const PYTHON = /^python[0-9.]*$/;
/** How Hermes's own units start it: `<venv python> -m hermes_cli.main ... gateway run`. */
const HERMES_MODULES: ReadonlySet<string> = new Set(['hermes_cli.main', 'hermes_cli']);
/** Interpreter options that take the next argument as their value. */
const PYTHON_VALUE_OPTIONS: ReadonlySet<string> = new Set(['-X', '-W', '--check-hash-based-pycs']);

/**
 * Where Hermes's own arguments begin in `argv`, or -1 when argv does not run Hermes. `hermes` is a
 * Python entry-point script: run through its shebang, the kernel makes argv `python /path/hermes ...`;
 * run as a module, `python -m hermes_cli.main ...`.
 */
function hermesArgsStart(argv: readonly string[]): number {
  const program = path.basename(argv[0] ?? '');
  if (program === 'hermes') return 1;
  if (!PYTHON.test(program)) return -1;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-m') return HERMES_MODULES.has(argv[i + 1] ?? '') ? i + 2 : -1;
    if (arg.startsWith('-m')) return HERMES_MODULES.has(arg.slice(2)) ? i + 1 : -1;
    if (arg === '-c' || arg === '-') return -1;
    if (PYTHON_VALUE_OPTIONS.has(arg)) i++;
    else if (!arg.startsWith('-')) return path.basename(arg) === 'hermes' ? i + 1 : -1;
  }
  return -1;
}

/**
 * A Hermes gateway's command line (`hermes [-p NAME] gateway run ...`, however Hermes is invoked), or
 * null for any other. Like Hermes's own `_apply_profile_override`, `-p NAME`, `--profile NAME` and
 * `--profile=NAME` count anywhere after the program; the first two words must be `gateway run`.
 */
export function parseGatewayCommand(argv: readonly string[]): GatewayCommand | null {
  const start = hermesArgsStart(argv);
  if (start < 0) return null;
  let profile: string | null = null;
  const words: string[] = [];
  for (let i = start; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-p' || arg === '--profile') profile = argv[++i] ?? null;
    else if (arg.startsWith('--profile=')) profile = arg.slice('--profile='.length);
    else if (!arg.startsWith('-')) words.push(arg);
  }
  return words[0] === 'gateway' && words[1] === 'run' ? { profile: profile || null } : null;
}
