/**
 * Writing the BIRD files as confd does: each file atomically (temporary file in the same
 * directory, fsync, rename), mode 0600 when it holds a BGP password, only when its content
 * changed; and telling BIRD to reload (`birdc -s SOCKET configure`) only then.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CalicoError, ValidationError } from '@libcalico-ts/api';

const run = promisify(execFile);

/** Temp files are named `.<file>.tmp-<pid>`; stale ones (a killed agent) are removed on start. */
const TEMP_RE = /^\..+\.tmp-\d+$/;

/** Whether a rendered file holds a BGP password (then it is written mode 0600). */
export function holdsPassword(text: string): boolean {
  return /^\s*password\s+"/m.test(text);
}

/** Result of {@link writeBirdFiles}. */
export interface WriteResult {
  /** Files whose content changed (written). */
  changed: string[];
  /** Files already up to date. */
  unchanged: string[];
}

/** Removes temporary files a killed writer left in `dir`. Returns their names. */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((name) => TEMP_RE.test(name));
  for (const name of stale) await rm(join(dir, name), { force: true });
  return stale;
}

async function writeAtomically(path: string, dir: string, name: string, text: string, mode: number): Promise<void> {
  const temp = join(dir, `.${name}.tmp-${process.pid}`);
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(text);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Writes `files` (name -> text) into `dir` (created when missing). A file whose content is
 * already identical is not rewritten, but its mode is still corrected.
 * @throws ValidationError for a file name with a path separator; CalicoError when a write fails.
 */
export async function writeBirdFiles(dir: string, files: Readonly<Record<string, string>>): Promise<WriteResult> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const result: WriteResult = { changed: [], unchanged: [] };
  for (const [name, text] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (name.includes('/') || name.startsWith('.') || name === '') {
      throw new ValidationError([{ name: 'files', value: name, reason: 'file names must be plain names' }]);
    }
    const path = join(dir, name);
    const mode = holdsPassword(text) ? 0o600 : 0o644;
    let existing: string | undefined;
    try {
      existing = await readFile(path, 'utf8');
    } catch {
      existing = undefined;
    }
    try {
      if (existing === text) {
        await chmod(path, mode);
        result.unchanged.push(name);
        continue;
      }
      await writeAtomically(path, dir, name, text, mode);
    } catch (error) {
      throw new CalicoError(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
    result.changed.push(name);
  }
  return result;
}

/** Outcome of {@link reconfigureBird}. */
export interface ReloadResult {
  ok: boolean;
  output: string;
}

/**
 * Runs `birdc -s SOCKET configure` and reports whether BIRD accepted the configuration
 * (`Reconfigured` / `Reconfiguration in progress`). A parse error or an unreachable socket gives
 * `ok: false` with BIRD's message; it never throws.
 */
export async function reconfigureBird(socket: string, birdc = process.env.BIRDC_BIN ?? 'birdc'): Promise<ReloadResult> {
  try {
    const { stdout, stderr } = await run(birdc, ['-s', socket, 'configure'], { timeout: 15_000 });
    const output = `${stdout}${stderr}`.trim();
    return { ok: /Reconfigur(ed|ation in progress)/.test(output), output };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
  }
}
