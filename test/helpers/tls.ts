/**
 * Test TLS material made with the `openssl` command line: a throwaway CA, a server certificate
 * for 127.0.0.1/localhost and a client certificate (clientAuth), all in a temporary directory.
 *
 * @example
 * ```ts
 * const tls = generateTlsMaterial();
 * try { ... tls.caFile, tls.serverCertFile, tls.clientCertFile ... } finally { tls.cleanup(); }
 * ```
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsMaterial {
  /** Directory holding every file; removed by {@link TlsMaterial.cleanup}. */
  readonly dir: string;
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A client certificate signed by a different, untrusted CA (for refusal tests). */
  readonly rogueClientCertFile: string;
  readonly rogueClientKeyFile: string;
  /** Removes the directory. Idempotent. */
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  openssl(
    ['req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert],
    dir,
  );
  return { cert, key };
}

function makeLeaf(dir: string, name: string, ca: { cert: string; key: string }, extensions: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  // grpc-js wants PKCS#8 keys or SEC1; both work, but convert to PKCS#8 to be safe.
  openssl(['pkcs8', '-topk8', '-nocrypt', '-in', key, '-out', `${key}.p8`], dir);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', cert], dir);
  return { cert, key: `${key}.p8` };
}

/** Generates a CA, a server certificate (SAN 127.0.0.1, localhost) and client certificates with openssl. */
export function generateTlsMaterial(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'libcalico-ts-tls-'));
  try {
    const ca = makeCa(dir, 'ca');
    const server = makeLeaf(
      dir,
      'server',
      ca,
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
    );
    const client = makeLeaf(dir, 'client', ca, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
    const rogueCa = makeCa(dir, 'rogue-ca');
    const rogue = makeLeaf(dir, 'rogue-client', rogueCa, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
    let cleaned = false;
    return {
      dir,
      caFile: ca.cert,
      caKeyFile: ca.key,
      serverCertFile: server.cert,
      serverKeyFile: server.key,
      clientCertFile: client.cert,
      clientKeyFile: client.key,
      rogueClientCertFile: rogue.cert,
      rogueClientKeyFile: rogue.key,
      cleanup() {
        if (cleaned) return;
        cleaned = true;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
