import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command line that does not parse: printed as one line and a pointer to --help, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options by name (`--dry-run` is `values['dry-run']`), and the operands. */
export interface ParsedCommand {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/**
 * node:util's parseArgs in strict mode, with `--help` added to every command and at most
 * `maxPositionals` operands; its errors become UsageErrors naming the command.
 */
export function parseCommand(command: string, args: string[], options: Options, maxPositionals: number): ParsedCommand {
  const withHelp: Options = { ...options, help: { type: 'boolean', short: 'h' } };
  let parsed: ParsedCommand;
  try {
    parsed = parseArgs({ args, options: withHelp, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs's messages end with advice about "--" that does not apply here.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command);
  }
  if (!parsed.values.help && parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument${parsed.positionals.length - maxPositionals > 1 ? 's' : ''} ${parsed.positionals.slice(maxPositionals).map((p) => `"${p}"`).join(' ')}`, command);
  }
  return parsed;
}
