/**
 * Helpers of the security suites: capture everything a piece of code logs in this process, and
 * search text for fragments of a secret (a key's base64 body, a password).
 */
import { readFileSync } from 'node:fs';

/** Every line written to stdout/stderr or console.* while `fn` runs (passed through as well). */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; output: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m]);
  const record = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
  };
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    record(chunk);
    return (out as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    record(chunk);
    return (err as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  methods.forEach((m) => {
    console[m] = (...args: unknown[]) => record(args.map((a) => (typeof a === 'string' ? a : safeStringify(a))).join(' '));
  });
  try {
    const value = await fn();
    return { value, output: chunks.join('') };
  } catch (error) {
    return { error, output: chunks.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    methods.forEach((m, i) => {
      console[m] = saved[i]!;
    });
  }
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Distinctive fragments of a PEM file: every 24-character slice (step 12) of its base64 body.
 * Finding any of them in a log means key material leaked.
 */
export function pemFragments(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const body = text
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
  const out: string[] = [];
  for (let i = 0; i + 24 <= body.length; i += 12) out.push(body.slice(i, i + 24));
  return out;
}

/** Everything an error says about itself: message, stack, and the same for its causes. */
export function errorText(error: unknown, depth = 0): string {
  if (depth > 8 || error === null || error === undefined) return '';
  const e = error as { message?: unknown; stack?: unknown; cause?: unknown; fields?: unknown; details?: unknown };
  const parts = [String(e.message ?? ''), String(e.stack ?? ''), safeStringify(e.fields ?? ''), safeStringify(e.details ?? '')];
  return parts.join('\n') + '\n' + errorText(e.cause, depth + 1);
}

/** The fragments of `secrets` found in `text` (empty when none leaked). */
export function leaked(text: string, fragments: readonly string[]): string[] {
  return fragments.filter((f) => f.length >= 8 && text.includes(f));
}
