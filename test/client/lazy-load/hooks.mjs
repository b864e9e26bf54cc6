// Module resolution hooks for the lazy-loading test and benchmark (loaded by register.mjs):
// every resolved URL is appended to $LIBCALICO_RECORD_FILE, and the packages listed in
// $LIBCALICO_HIDE_PACKAGES (comma-separated) fail to resolve as if they were not installed.
import { appendFileSync } from 'node:fs';

const recordFile = process.env.LIBCALICO_RECORD_FILE;
const hidden = (process.env.LIBCALICO_HIDE_PACKAGES ?? '').split(',').filter(Boolean);

export async function resolve(specifier, context, nextResolve) {
  if (hidden.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
    const error = new Error(`Cannot find package '${specifier}' imported from ${context.parentURL}`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  const result = await nextResolve(specifier, context);
  if (recordFile) appendFileSync(recordFile, `${result.url}\n`);
  return result;
}
