/**
 * The seam between pure builders and the system: every external program (iptables-restore,
 * iptables-save, ip netns, nsenter) is run through a {@link CommandRunner}, so tests can inject a
 * fake and production uses {@link defaultCommandRunner}.
 */
import { spawn } from 'node:child_process';
import { CommandError } from './errors.js';

/** Result of one command. */
export interface CommandResult {
  /** Exit status; null when killed by a signal. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link CommandRunner.run}. */
export interface CommandOptions {
  /** Written to the command's standard input (then closed). */
  input?: string;
  /** Kill the command after this many milliseconds (default 30000). */
  timeoutMs?: number;
}

/** Runs external commands. */
export interface CommandRunner {
  /**
   * Runs `command[0]` with the remaining arguments (no shell). Resolves with the exit status and
   * output even when the status is non-zero; rejects only when the program cannot be started.
   */
  run(command: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

/** A {@link CommandRunner} over `child_process.spawn` (no shell, `LC_ALL=C`). */
export const defaultCommandRunner: CommandRunner = {
  run(command, options = {}) {
    return new Promise((resolve, reject) => {
      const child = spawn(command[0]!, command.slice(1), {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C' },
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new CommandError([...command], null, '', { cause: error, message: `cannot run ${command[0]}: ${error.message}` }));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ exitCode: code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    });
  },
};

/** Runs a command and throws {@link CommandError} unless it exits 0. Returns stdout. */
export async function runChecked(runner: CommandRunner, command: readonly string[], options?: CommandOptions): Promise<string> {
  const result = await runner.run(command, options);
  if (result.exitCode !== 0) throw new CommandError([...command], result.exitCode, result.stderr);
  return result.stdout;
}
