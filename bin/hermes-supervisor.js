#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt --no-maglev --no-sparkplug
// A long-running daemon that allocates little: a 1 MB young generation keeps its idle RSS small, and no
// optimising compiler saves about 7 MB more. Its hot paths are system calls, not JavaScript: the swap
// path measured about the same with and without them (docs/benchmarks.md).
// The CLI is compiled TypeScript, bundled into one module (3 MB less memory than loading its ~150
// modules one by one): a clone that was never built has no dist/ yet.
const cli = await import('../dist/bundle/cli/index.js').catch((err) => {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('cli/index.js')) throw err;
  process.stderr.write('hermes-supervisor: the compiled code (dist/) is missing: run `npm run build` in a clone, or reinstall the package\n');
  process.exit(1);
});

process.exitCode = await cli.main(process.argv.slice(2));
