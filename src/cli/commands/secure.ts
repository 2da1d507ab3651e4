import type { Argv } from 'yargs';
import { DEFAULT_PREFIX } from '../../protocol/index.js';
import { defineCommand, defineGroup } from '../command.js';
import { asUsage, ExitCode } from '../io.js';
import {
  checkSecureInitOptions,
  type SecureInitOptions,
  type SecureInitReport,
  secureInit,
} from '../secure/index.js';

/** `a b` and `a,b` (and the same from an environment variable) are both the names a and b. */
function names(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((value) =>
    String(value)
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  );
}

/** `switchboard secure init`: the security material of one site. */
export const secureInitCommand = defineCommand({
  command: 'init',
  describe:
    "Write a site's NATS users and permissions, test TLS material and an env file per identity",
  builder: (y: Argv) =>
    y
      .options({
        site: {
          type: 'string',
          demandOption: true,
          describe: 'The site the material is for',
        },
        out: {
          type: 'string',
          demandOption: true,
          normalize: true,
          describe: 'Directory to write to (made 0700); run again on it to add, drop or rotate',
        },
        service: {
          type: 'string',
          array: true,
          describe: 'A service this site serves: one server identity each (a b or a,b)',
        },
        'bridge-to': {
          type: 'string',
          array: true,
          describe: 'A site bridged to this one: one bridge identity each (a b or a,b)',
        },
        rotate: {
          type: 'string',
          array: true,
          describe: 'Identities to give a new password (e.g. broker, server-calculator)',
        },
        'tls-host': {
          type: 'string',
          array: true,
          describe:
            'A host name or IP the server certificate also holds [default: localhost, loopback, nats, nats-SITE]',
        },
        prefix: {
          type: 'string',
          default: DEFAULT_PREFIX,
          describe: "Subject prefix of the site's components",
        },
      })
      .example(
        '$0 secure init --site a --out /etc/switchboard/a --service calculator --bridge-to b',
        'site a: broker, client, observer, calculator servers, a bridge to b',
      ),
  async run(args, io) {
    const options: SecureInitOptions = {
      site: args.site,
      out: args.out,
      services: names(args.service),
      bridgeTo: names(args.bridgeTo),
      rotate: names(args.rotate),
      tlsHosts: names(args.tlsHost),
      prefix: args.prefix,
    };
    asUsage(() => checkSecureInitOptions(options));
    let report: SecureInitReport;
    try {
      report = await secureInit(options);
    } catch (err) {
      io.stderr(`switchboard secure init: ${(err as Error).message}\n`);
      return ExitCode.FAILURE;
    }
    io.stdout(`${reportLines(options.site, report).join('\n')}\n`);
    return ExitCode.OK;
  },
});

/** What `secure init` says it did: files and what they are for, never a secret. */
function reportLines(site: string, report: SecureInitReport): string[] {
  const width = Math.max(...report.files.map(({ file }) => file.length));
  const lines = [
    `site ${site}: security material in ${report.dir} (certificates 0644, all else 0600)`,
    ...report.files.map(({ file, what }) => `  ${file.padEnd(width)}  ${what}`),
  ];
  if (report.newPasswords.length > 0) {
    lines.push(
      `new passwords (in auth.conf and the env files only): ${report.newPasswords.join(', ')}`,
    );
  }
  if (report.removed.length > 0) lines.push(`removed identities: ${report.removed.join(', ')}`);
  if (report.newCa) lines.push('new test CA: give clients the new ca.pem');
  lines.push(
    'Next: run nats-server -c nats.conf (or include auth.conf in your config; after a change,',
    'nats-server --signal reload), and start each component with its env file (docs/security.md).',
  );
  return lines;
}

/** `switchboard secure`: the security material of a site. */
export const secureCommand = defineGroup({
  command: 'secure',
  describe: "Write a site's credentials, permissions and TLS material (secure init)",
  subcommands: [secureInitCommand],
});
