/**
 * `switchboard secure init`: writes a site's security material into one
 * directory — the NATS authorization include file, a server config using it,
 * test TLS material, and an env file per identity — and keeps what is already
 * there when run again (passwords, CA), so that adding a service, dropping a
 * bridge or rotating one password is the same command.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { subjectsFor } from '../../protocol/index.js';
import { type BridgeSide, envFileName, envFilesOf, passwordIn } from './env-files.js';
import { AUTH_FILE, authConfig, type Credential, serverConfig } from './nats-config.js';
import {
  certificateHosts,
  type Identity,
  planIdentities,
  type SecureInitOptions,
} from './site-plan.js';
import { issueServerCertificate, makeCa, TLS_FILES } from './test-tls.js';

/** The server config for this host. */
export const SERVER_CONFIG_FILE = 'nats.conf';
/** What `secure init` remembers of its last run in a directory (no secret). */
const MANIFEST_FILE = 'secure-init.json';

/** What the last run in a directory wrote. */
interface Manifest {
  site: string;
  identities: string[];
  tlsHosts: string[];
}

/** One file written, and what it is for. */
export interface WrittenFile {
  file: string;
  what: string;
}

/** What a run of `secure init` did, for its report (no secret in it). */
export interface SecureInitReport {
  /** The output directory, absolute. */
  dir: string;
  files: WrittenFile[];
  /** Identities given a new password (new ones, and rotated ones). */
  newPasswords: string[];
  /** Identities of an earlier run that are gone, their env files removed. */
  removed: string[];
  /** Whether a new CA was made (clients must be given the new ca.pem). */
  newCa: boolean;
}

/**
 * A file with a secret, readable by its owner only. One already there is
 * rewritten in place, not replaced: a bind mount of it (a compose secret)
 * keeps showing the old file's inode, and NATS must see the new `auth.conf`
 * when told to reload.
 */
async function writePrivate(file: string, text: string): Promise<void> {
  if (await exists(file)) {
    await chmod(file, 0o600);
    await writeFile(file, text);
  } else {
    await writeFile(file, text, { mode: 0o600, flag: 'wx' });
  }
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  return (await readIfThere(file)) !== undefined;
}

async function readManifest(dir: string, site: string): Promise<Manifest | undefined> {
  const text = await readIfThere(join(dir, MANIFEST_FILE));
  if (text === undefined) return undefined;
  const manifest = JSON.parse(text) as Manifest;
  if (manifest.site !== site) {
    throw new Error(`${dir} holds the material of site ${manifest.site}, not ${site}`);
  }
  return manifest;
}

/**
 * Refuses a directory that `secure init` did not write but that holds files
 * it would write: they are someone else's, and would be overwritten or read.
 */
async function refuseStrangers(dir: string): Promise<void> {
  const ours = new Set<string>([AUTH_FILE, SERVER_CONFIG_FILE, ...Object.values(TLS_FILES)]);
  const found = (await readdir(dir)).filter((file) => ours.has(file) || file.endsWith('.env'));
  if (found.length > 0) {
    throw new Error(
      `${dir} holds ${found.join(', ')}, which secure init did not write: choose another directory`,
    );
  }
}

/**
 * A new password: 32 characters of base64url (192 random bits), never
 * starting with `-`, which a command line would take for an option.
 */
export function newPassword(): string {
  for (;;) {
    const password = randomBytes(24).toString('base64url');
    if (!password.startsWith('-')) return password;
  }
}

/** The identity's password from its env file of an earlier run, if any. */
async function earlierPassword(dir: string, identity: Identity): Promise<string | undefined> {
  const side: BridgeSide | undefined = identity.role === 'bridge' ? 'local' : undefined;
  const text = await readIfThere(join(dir, envFileName(identity.name, side)));
  return text === undefined ? undefined : passwordIn(text, identity.name, side);
}

/**
 * Writes (or brings up to date) the material of one site in `options.out`;
 * `options` must have passed `checkSecureInitOptions`.
 */
export async function secureInit(options: SecureInitOptions): Promise<SecureInitReport> {
  const dir = resolve(options.out);
  const at = (file: string) => join(dir, file);
  const created = (await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined;
  if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
  const manifest = await readManifest(dir, options.site);
  if (manifest === undefined && !created) await refuseStrangers(dir);
  // Our own directory is closed to others; one of the user's keeps its mode.
  if (created || manifest !== undefined) await chmod(dir, 0o700);

  const credentials: Credential[] = [];
  const newPasswords: string[] = [];
  for (const identity of planIdentities(options)) {
    const kept = options.rotate.includes(identity.name)
      ? undefined
      : await earlierPassword(dir, identity);
    if (kept === undefined) newPasswords.push(identity.name);
    credentials.push({ ...identity, password: kept ?? newPassword() });
  }

  const hosts = certificateHosts(options.site, options.tlsHosts);
  const newCa = !((await exists(at(TLS_FILES.ca))) && (await exists(at(TLS_FILES.caKey))));
  if (newCa) await makeCa(dir, options.site);
  const sameHosts = manifest?.tlsHosts.join() === hosts.join();
  if (newCa || !sameHosts || !(await exists(at(TLS_FILES.cert)))) {
    await issueServerCertificate(dir, options.site, hosts);
  }
  // Certificates are public, and containers running as another user read the CA.
  await chmod(at(TLS_FILES.ca), 0o644);
  await chmod(at(TLS_FILES.cert), 0o644);

  const subjects = subjectsFor(options.prefix);
  const files: WrittenFile[] = [
    { file: AUTH_FILE, what: 'NATS users and permissions: include it in the server config' },
    { file: SERVER_CONFIG_FILE, what: 'a NATS server config for this host: auth.conf and TLS' },
    { file: TLS_FILES.ca, what: 'test CA certificate: clients check the server with it' },
    { file: TLS_FILES.caKey, what: 'test CA key: it signs server certificates; keep it safe' },
    { file: TLS_FILES.cert, what: `NATS server certificate for ${hosts.join(', ')}` },
    { file: TLS_FILES.key, what: 'NATS server key' },
  ];
  await writePrivate(at(AUTH_FILE), authConfig(options.site, subjects, credentials));
  await writePrivate(
    at(SERVER_CONFIG_FILE),
    serverConfig(options.site, { certFile: at(TLS_FILES.cert), keyFile: at(TLS_FILES.key) }),
  );
  for (const credential of credentials) {
    for (const env of envFilesOf(options.site, credential, at(TLS_FILES.ca), options.prefix)) {
      await writePrivate(at(env.file), env.text);
      files.push({ file: env.file, what: env.purpose });
    }
  }

  const names = credentials.map((credential) => credential.name);
  const removed = (manifest?.identities ?? []).filter((name) => !names.includes(name));
  for (const name of removed) {
    for (const side of [undefined, 'local', 'remote'] as const) {
      await rm(at(envFileName(name, side)), { force: true });
    }
  }
  const next: Manifest = { site: options.site, identities: names, tlsHosts: hosts };
  await writePrivate(at(MANIFEST_FILE), `${JSON.stringify(next, null, 2)}\n`);
  return { dir, files, newPasswords, removed, newCa };
}
