import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** The `log` section of the config, as far as the logger is concerned. Plain data: it crosses into worker threads. */
export interface LogOptions {
  level: string;
  /** `json` (one object per line, for collectors), `text` (for a terminal), `logstash` (written as `json`). */
  formatter?: 'json' | 'text' | 'logstash';
  /** Distribution's `log.fields`: added to every line. */
  fields?: Record<string, unknown>;
}

/** Where a logger made here keeps its formatter; a child inherits it (pino's children are prototype copies). */
const FORMATTER = Symbol('dockyard.log.formatter');
type Made = Logger & { [FORMATTER]?: LogOptions['formatter'] };

/**
 * Logs on stdout: JSON, one object per line, as log collectors expect; or, with `text`, one
 * readable line each, pino-pretty in this thread (synchronous, so nothing is lost at exit).
 * A bare level is the JSON logger at that level. Worker threads build theirs here too, from
 * `threadLogOptions` of the main thread's logger, so every line of the process looks alike.
 */
export function createLogger(options: LogOptions | string): Logger {
  const { level, formatter = 'json', fields = {} } = typeof options === 'string' ? { level: options } : options;
  const settings = { level, base: { service: 'dockyard', ...fields }, timestamp: pino.stdTimeFunctions.isoTime };
  const logger: Made =
    formatter === 'text'
      ? pino(
          settings,
          pretty({
            colorize: process.stdout.isTTY === true,
            singleLine: true,
            translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
            ignore: 'pid,hostname,service',
            sync: true,
          }),
        )
      : pino(settings);
  logger[FORMATTER] = formatter;
  // Distribution's logstash formatter renames logrus fields (@timestamp, @version); ours are
  // pino's, which Logstash's json codec reads as they are.
  if (formatter === 'logstash') logger.warn('log.formatter: logstash writes the JSON lines of "json" (pino fields, not logrus-logstash ones)');
  return logger;
}

/**
 * The options that rebuild `logger` in a worker thread (workerData is plain data, a Logger is
 * not): its level, formatter, and every field it adds (log.fields and a child's bindings).
 * `logstash` goes as `json`, which it writes, so the threads do not repeat its warning.
 */
export function threadLogOptions(logger: Logger): LogOptions {
  const formatter = (logger as Made)[FORMATTER] ?? 'json';
  return { level: logger.level, formatter: formatter === 'logstash' ? 'json' : formatter, fields: logger.bindings() };
}
