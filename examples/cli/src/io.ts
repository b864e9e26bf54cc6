/** Where the CLI reads and writes: injectable so the commands run in-process in tests and the demo. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The whole of standard input (for `-f -`). */
  readStdin(): Promise<string>;
  env: Readonly<Record<string, string | undefined>>;
}

/** A command failed: `message` is printed (to stderr unless `toStdout`) and the exit code is 1. */
export class CommandError extends Error {
  readonly toStdout: boolean;
  constructor(message: string, options: { toStdout?: boolean } = {}) {
    super(message);
    this.name = 'CommandError';
    this.toStdout = options.toStdout ?? false;
  }
}

/** The process's own streams and environment. */
export function processIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
  };
}

/** An IO capturing output in strings (tests, the demo). */
export function memoryIO(env: Readonly<Record<string, string | undefined>> = {}, stdin = ''): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout(text: string) {
      io.out += text;
    },
    stderr(text: string) {
      io.err += text;
    },
    readStdin: async () => stdin,
    env,
  };
  return io;
}
