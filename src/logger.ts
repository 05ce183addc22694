import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Fields that may hold credentials or keys, wherever they sit in a log line. Code does not log them on purpose;
 * this is the net for the day something logs a request, a config object or an error carrying one.
 */
export const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.*.headers.authorization',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'apiKeys',
  '*.apiKeys',
  'hs256Secret',
  '*.hs256Secret',
  '*.*.hs256Secret',
  'keys',
  '*.keys',
  '*.*.keys',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

/** The structured JSON logger of one service process; `service` names the process on every line. */
export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  const options = { name: service, level, base: { service }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Routes the Temporal SDK's logs (and workflow and activity `log` calls) into the process's JSON log. */
export function temporalLoggerFor(logger: Logger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    logger[PINO_LEVEL[level]](meta ?? {}, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
