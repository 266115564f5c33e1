import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** The `log` section of the config, as far as the logger is concerned. */
export interface LogOptions {
  level: string;
  /** `json` (one object per line, for collectors), `text` (for a terminal), `logstash` (written as `json`). */
  formatter?: 'json' | 'text' | 'logstash';
  /** Distribution's `log.fields`: added to every line. */
  fields?: Record<string, unknown>;
}

/**
 * Logs on stdout: JSON, one object per line, as log collectors expect; or, with `text`, one
 * readable line each, pino-pretty in this thread (synchronous, so nothing is lost at exit).
 * A bare level is the JSON logger at that level.
 */
export function createLogger(options: LogOptions | string): Logger {
  const { level, formatter = 'json', fields = {} } = typeof options === 'string' ? { level: options } : options;
  const settings = { level, base: { service: 'dockyard', ...fields }, timestamp: pino.stdTimeFunctions.isoTime };
  if (formatter === 'text') {
    return pino(
      settings,
      pretty({
        colorize: process.stdout.isTTY === true,
        singleLine: true,
        translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
        ignore: 'pid,hostname,service',
        sync: true,
      }),
    );
  }
  const logger = pino(settings);
  // Distribution's logstash formatter renames logrus fields (@timestamp, @version); ours are
  // pino's, which Logstash's json codec reads as they are.
  if (formatter === 'logstash') logger.warn('log.formatter: logstash writes the JSON lines of "json" (pino fields, not logrus-logstash ones)');
  return logger;
}
