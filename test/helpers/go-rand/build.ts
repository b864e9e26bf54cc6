/**
 * Builds the Go vector program (test/helpers/go-rand/main.go) with the Debian `go` toolchain,
 * standard library only (GO111MODULE=off), GOCACHE/GOPATH in a temp dir. Returns a function
 * that runs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('./main.go', import.meta.url));

/** Runs the built program with `args`, feeding `input` on stdin; returns stdout. */
export type GoRand = (args: string[], input?: string) => string;

/** Builds go-rand. Throws (loudly) when `go` is not installed: the vectors are the proof of the port. */
export function buildGoRand(): GoRand {
  const dir = mkdtempSync(join(tmpdir(), 'go-rand-'));
  const binary = join(dir, 'go-rand');
  const env = { ...process.env, GOCACHE: join(dir, 'cache'), GOPATH: join(dir, 'path'), GO111MODULE: 'off', GOFLAGS: '' };
  const built = spawnSync('go', ['build', '-o', binary, source], { env, encoding: 'utf8' });
  if (built.error) throw new Error(`go-rand: cannot run 'go' (install Debian golang-go): ${built.error.message}`);
  if (built.status !== 0) throw new Error(`go-rand: go build failed:\n${built.stderr}`);
  return (args, input) => execFileSync(binary, args, { input: input ?? '', encoding: 'utf8', maxBuffer: 64 << 20 });
}
