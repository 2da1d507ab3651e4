/**
 * The env files `secure init` writes, one per identity (two per bridge
 * identity: as the bridge's local side, and as its remote side), and reading
 * back the password of one it wrote before. Pure: text in, text out.
 */
import { DEFAULT_PREFIX } from '../../protocol/index.js';
import { ENV_PREFIX } from '../env.js';
import type { Credential } from './nats-config.js';

/** How a bridge process names the options of each side: `--local-user`, `--remote-user`. */
export type BridgeSide = 'local' | 'remote';

/** One env file: its name in the output directory, its text, and what it is for. */
export interface EnvFile {
  file: string;
  text: string;
  purpose: string;
}

/** The env files of one identity: one file, or for a bridge one per side. */
export function envFilesOf(
  site: string,
  credential: Credential,
  caFile: string,
  prefix: string,
): EnvFile[] {
  const sides: (BridgeSide | undefined)[] =
    credential.role === 'bridge' ? ['local', 'remote'] : [undefined];
  return sides.map((side) => ({
    file: envFileName(credential.name, side),
    text: envText(site, credential, caFile, prefix, side),
    purpose:
      side === undefined
        ? credential.purpose
        : `${credential.purpose}, for a bridge whose --${side} is site ${site}`,
  }));
}

/** `broker.env`; for a bridge identity `bridge-b.local.env` or `bridge-b.remote.env`. */
export function envFileName(name: string, side?: BridgeSide): string {
  return side === undefined ? `${name}.env` : `${name}.${side}.env`;
}

/** `SWITCHBOARD_USER`, or for a bridge side `SWITCHBOARD_LOCAL_USER`. */
function variable(option: string, side?: BridgeSide): string {
  const name = side === undefined ? option : `${side}-${option}`;
  return `${ENV_PREFIX}_${name.toUpperCase().replaceAll('-', '_')}`;
}

function envText(
  site: string,
  credential: Credential,
  caFile: string,
  prefix: string,
  side: BridgeSide | undefined,
): string {
  const as = side === undefined ? '' : ` Give it to the bridge whose --${side} is site ${site}.`;
  const lines = [
    `# ${credential.name} at site ${site}: ${credential.purpose}.${as}`,
    '# Written by `switchboard secure init`. It holds a password: keep it mode 0600, never commit it.',
    `${variable('user', side)}=${credential.name}`,
    `${variable('pass', side)}=${credential.password}`,
    `${variable('inbox-prefix', side)}=${credential.inboxPrefix}`,
    `${variable('tls-ca', side)}=${caFile}`,
  ];
  if (prefix !== DEFAULT_PREFIX) lines.push(`${variable('prefix')}=${prefix}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The password an env file written for `name` holds, or undefined when the
 * text is not such a file (another user, no password).
 */
export function passwordIn(text: string, name: string, side?: BridgeSide): string | undefined {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (line.startsWith('#') || at < 0) continue;
    values.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  if (values.get(variable('user', side)) !== name) return undefined;
  const password = values.get(variable('pass', side));
  return password === '' ? undefined : password;
}
