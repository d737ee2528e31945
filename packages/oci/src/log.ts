/**
 * runc's way of reporting: an error goes to stderr and, with --log, to the log file as well
 * (text, or one JSON object per line with --log-format json, which conmon and containerd
 * read back). Debug lines go to the log only, when --debug is given.
 */

import { appendFileSync, closeSync, openSync } from 'node:fs';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface LogOptions {
  file?: string;
  format: LogFormat;
  debug: boolean;
  /** stderr of the caller, and whether it is a terminal (runc's text format differs). */
  stderr: (text: string) => void;
  stderrIsTty: boolean;
}

function textLine(level: LogLevel, message: string, time: Date): string {
  return `time="${time.toISOString()}" level=${level} msg=${JSON.stringify(message)}\n`;
}

export class RuncLog {
  constructor(private readonly options: LogOptions) {}

  /**
   * Opens (creates) the --log file, as runc and crun do before anything else: a path that
   * cannot be used fails the command. Undefined when it can, else why not.
   */
  checkFile(): string | undefined {
    if (!this.options.file) return undefined;
    try {
      closeSync(openSync(this.options.file, 'a', 0o600));
      return undefined;
    } catch (error) {
      return `--log ${this.options.file}: ${(error as Error).message}`;
    }
  }

  private toFile(level: LogLevel, message: string): void {
    if (!this.options.file) return;
    const time = new Date();
    const line = this.options.format === 'json' ? `${JSON.stringify({ level, msg: message, time: time.toISOString() })}\n` : textLine(level, message, time);
    try {
      appendFileSync(this.options.file, line, { mode: 0o600 });
    } catch {
      // A log that cannot be written must not turn a success into a failure.
    }
  }

  debug(message: string): void {
    if (this.options.debug) this.toFile('debug', message);
  }

  warn(message: string): void {
    this.toFile('warning', message);
    if (!this.options.file) this.options.stderr(this.stderrLine('warning', message));
  }

  /** An error that ends the command: stderr always, the log file too. */
  error(message: string): void {
    this.toFile('error', message);
    this.options.stderr(this.stderrLine('error', message));
  }

  private stderrLine(level: LogLevel, message: string): string {
    if (this.options.stderrIsTty) return `${level === 'error' ? 'ERRO' : 'WARN'}[0000] ${message}\n`;
    return textLine(level, message, new Date());
  }
}
