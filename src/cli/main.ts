import { existsSync, readFileSync } from 'node:fs';
import { EXIT_USAGE } from './config-file.ts';
import { HELP_BY_COMMAND, MAIN_HELP } from './help.ts';
import { UsageError } from './usage.ts';

type Command = (args: string[]) => number | undefined | Promise<number | undefined>;

// Each loaded when run: `health` (every 10 s under Docker) does not load the registry's modules.
const serve: Command = async (args) => (await import('./serve.ts')).serve(args);
const gc: Command = async (args) => (await import('./gc.ts')).gc(args);
const COMMANDS: Record<string, Command> = {
  serve,
  gc,
  'garbage-collect': gc, // Distribution's name for it
  config: async (args) => (await import('./config-check.ts')).configCheck(args),
  health: async (args) => (await import('./health.ts')).health(args),
};

/**
 * Runs `dockyard <argv>`. Resolves with the exit status, or with undefined while `serve` is
 * serving (the process then ends on a signal).
 */
export async function runCli(argv: string[]): Promise<number | undefined> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) return await serve([]); // `npm start`, `node dist/main.js`: serve the defaults
    if (first === '-v' || first === '--version' || first === 'version') {
      process.stdout.write(`dockyard ${version()}\n`);
      return 0;
    }
    if (first === '-h' || first === '--help') {
      process.stdout.write(MAIN_HELP);
      return 0;
    }
    if (first === 'help') {
      const help = rest[0] === undefined ? MAIN_HELP : HELP_BY_COMMAND[rest[0]];
      if (help === undefined) throw new UsageError(`no command "${rest[0]}"`, 'help');
      process.stdout.write(help);
      return 0;
    }
    const command = COMMANDS[first];
    if (command) return await command(rest);
    // The old form, `dockyard config.yml` (what dist/main.js has always taken): serve that file.
    if (!first.startsWith('-') && looksLikeConfigPath(first)) return await serve(argv);
    throw new UsageError(first.startsWith('-') ? `unknown option "${first}"` : `unknown command "${first}"`, '');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const help = err.command ? `dockyard ${err.command === 'garbage-collect' ? 'gc' : err.command} --help` : 'dockyard --help';
    process.stderr.write(`dockyard${err.command ? ` ${err.command}` : ''}: ${err.message} (see ${help})\n`);
    return EXIT_USAGE;
  }
}

/** A file that exists, or a name a configuration file has (`.yml`, `.yaml`, `.json`, a path). */
function looksLikeConfigPath(arg: string): boolean {
  return /\.(ya?ml|json)$/i.test(arg) || arg.includes('/') || existsSync(arg);
}

/** The package's version, from package.json (one level above src/ and dist/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
