/**
 * TLS material for the secured compose site, made on the fly with openssl in a
 * temporary directory and never committed: a CA, and a NATS server certificate
 * it signed for `nats` (the site's own containers), `localhost` and 127.0.0.1
 * (the port published on this host). The files are named as
 * deploy/site.secure.yml expects in SWITCHBOARD_SECRETS.
 */
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether `openssl` can be run; the reason when not. */
export async function opensslMissing(): Promise<string | undefined> {
  try {
    await run('openssl', ['version']);
    return undefined;
  } catch {
    return 'no openssl command on the PATH (it makes the test certificates)';
  }
}

/** Writes ca.pem, server-cert.pem and server-key.pem into `dir`. */
export async function makeTestTls(dir: string): Promise<void> {
  const at = (file: string) => join(dir, file);
  const days = ['-days', '2'];
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...days],
    ...['-subj', '/CN=switchboard-test-ca', '-keyout', at('ca-key.pem'), '-out', at('ca.pem')],
  ]);
  await run('openssl', [
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=nats'],
    ...['-keyout', at('server-key.pem'), '-out', at('server.csr')],
  ]);
  await writeFile(at('san.cnf'), 'subjectAltName=DNS:nats,DNS:localhost,IP:127.0.0.1\n');
  await run('openssl', [
    ...['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca-key.pem')],
    ...['-CAcreateserial', ...days, '-extfile', at('san.cnf'), '-out', at('server-cert.pem')],
  ]);
  // The containers' `node` user reads the CA and the certificate.
  await chmod(at('ca.pem'), 0o644);
  await chmod(at('server-cert.pem'), 0o644);
}
