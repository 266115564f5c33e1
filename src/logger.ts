import { pino, type Logger } from 'pino';

/** JSON logs on stdout, one object per line, as log collectors expect. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'dockyard' }, timestamp: pino.stdTimeFunctions.isoTime });
}
