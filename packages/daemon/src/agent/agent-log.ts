/** The agent's log lines on stderr, `nsboxd: [scope] message`, filtered by nsboxd's log level. */

import type { OperationLog } from '@nsbox/core';

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function agentLog(level: string | undefined, write: (line: string) => void): (scope: string) => OperationLog {
  const threshold = levels.indexOf(level ?? 'info');
  const shows = (name: string) => threshold === -1 || levels.indexOf(name) >= threshold;
  return (scope) => {
    const line = (message: string, data?: Record<string, unknown>) => write(`[${scope}] ${message}${data ? ` ${JSON.stringify(data)}` : ''}`);
    return {
      debug: (message, data) => shows('debug') && line(message, data),
      info: (message, data) => shows('info') && line(message, data),
      warn: (message, data) => shows('warn') && line(message, data),
    } as OperationLog;
  };
}
