/**
 * TLS material for trying a secured site: a CA of its own and a NATS server
 * certificate it signed. Keys are made here (node:crypto) and written 0600
 * from the start; certificates are signed by `openssl`. For tests and first
 * steps: a real deployment's certificates come from its own CA.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** How long the test certificates last. */
const DAYS = '365';

/** The files of the test TLS material, by role. */
export const TLS_FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  cert: 'server-cert.pem',
  key: 'server-key.pem',
} as const;

/** Writes a new P-256 private key (PEM), readable by its owner only from the start. */
async function writeKey(file: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  await rm(file, { force: true });
  await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
}

/** Runs openssl; a missing openssl is said in words. */
async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('openssl is not installed (it signs the test certificates)', { cause: err });
    }
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Makes a CA (key and self-signed certificate) in `dir`. */
export async function makeCa(dir: string, site: string): Promise<void> {
  const key = join(dir, TLS_FILES.caKey);
  await writeKey(key);
  await openssl([
    ...['req', '-x509', '-new', '-key', key, '-sha256', '-days', DAYS],
    ...['-subj', `/CN=switchboard test CA of site ${site}`],
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    ...['-out', join(dir, TLS_FILES.ca)],
  ]);
}

/** Makes the NATS server's key and a certificate for `hosts`, signed by the CA in `dir`. */
export async function issueServerCertificate(
  dir: string,
  site: string,
  hosts: readonly string[],
): Promise<void> {
  const key = join(dir, TLS_FILES.key);
  await writeKey(key);
  const work = await mkdtemp(join(tmpdir(), 'switchboard-tls-'));
  try {
    const csr = join(work, 'server.csr');
    const extensions = join(work, 'server.ext');
    const names = hosts.map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
    await writeFile(
      extensions,
      `subjectAltName=${names}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
    );
    await openssl(['req', '-new', '-key', key, '-subj', `/CN=nats-${site}`, '-out', csr]);
    await openssl([
      ...['x509', '-req', '-in', csr, '-sha256', '-days', DAYS],
      ...['-CA', join(dir, TLS_FILES.ca), '-CAkey', join(dir, TLS_FILES.caKey)],
      ...['-set_serial', `0x${randomBytes(16).toString('hex')}`],
      ...['-extfile', extensions, '-out', join(dir, TLS_FILES.cert)],
    ]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
