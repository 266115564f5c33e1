#!/usr/bin/env -S node --max-semi-space-size=2
import { runCli } from './cli/main.ts';

/**
 * The entry (`dockyard`, `node dist/main.js`, `node --import tsx src/main.ts`): the command line
 * in src/cli. Without a command it serves, so `main.js config.yml` keeps working.
 */
runCli(process.argv.slice(2)).then(
  (status) => {
    if (status === undefined) return; // serving
    process.exitCode = status;
    // Exits on its own once its output is written; a handle a failed start left open must not keep it.
    setTimeout(() => process.exit(status), 1_000).unref();
  },
  (err: unknown) => {
    // A bug, not an operator's mistake (those are one line from the commands): the stack helps.
    process.stderr.write(`dockyard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
