/**
 * stderr logging (stdout carries only the result or error JSON). Levels `debug`, `info`,
 * `error`; anything else means `info`. With `log_file_path` lines are also appended there.
 * Never logs the NetConf itself, credentials or file contents.
 */
import { appendFileSync } from 'node:fs';

const LEVELS = { debug: 0, info: 1, warning: 2, error: 3 } as const;
type Level = keyof typeof LEVELS;

export class Logger {
  private level: number = LEVELS.info;
  private file = '';
  /**
   * @param plugin name printed in each line.
   * @param options `level` overrides the start level (default `CALICO_CNI_LOG_LEVEL`, else info);
   *   `sink` receives each line instead of stderr (the CNI server returns them to its shim).
   */
  constructor(
    private readonly plugin: string,
    options: { level?: string | undefined; sink?: (line: string) => void } = {},
  ) {
    const level = 'level' in options ? options.level : process.env.CALICO_CNI_LOG_LEVEL;
    if (level) this.setLevel(level, '');
    this.sink = options.sink ?? ((line) => process.stderr.write(line));
  }
  private readonly sink: (line: string) => void;

  setLevel(level: string, file: string): void {
    this.level = LEVELS[(level.toLowerCase() as Level)] ?? LEVELS.info;
    this.file = file;
  }

  private write(level: Level, message: string): void {
    if (LEVELS[level] < this.level) return;
    const line = `${new Date().toISOString()} [${level.toUpperCase()}] ${this.plugin}: ${message}\n`;
    this.sink(line);
    if (this.file) {
      try {
        appendFileSync(this.file, line);
      } catch {
        // A broken log file must not fail the CNI operation.
      }
    }
  }

  debug(message: string): void {
    this.write('debug', message);
  }
  info(message: string): void {
    this.write('info', message);
  }
  error(message: string): void {
    this.write('error', message);
  }
  /** Debug line with the time since `start` (performance.now()). */
  timing(step: string, start: number): void {
    if (this.level <= LEVELS.debug) this.write('debug', `${step}: ${(performance.now() - start).toFixed(1)} ms`);
  }
}
