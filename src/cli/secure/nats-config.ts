/**
 * The NATS server configuration `secure init` writes: the authorization
 * include file (users, passwords, permissions) and a server config for
 * this host that includes it and turns TLS on. Pure: text out.
 */
import { permissionsFor, type SubjectPermissions, type Subjects } from '../../protocol/index.js';
import type { Identity } from './site-plan.js';

/** An identity with the password it logs in with. */
export interface Credential extends Identity {
  password: string;
}

/** The include file's name, as the server config names it. */
export const AUTH_FILE = 'auth.conf';

const quote = (text: string) => JSON.stringify(text);

/** `publish: { allow: [ ... ] }`, one subject a line, at `indent`. */
function allowBlock(what: string, subjects: readonly string[], indent: string): string[] {
  return [
    `${indent}${what}: {`,
    `${indent}  allow: [`,
    ...subjects.map((subject) => `${indent}    ${quote(subject)}`),
    `${indent}  ]`,
    `${indent}}`,
  ];
}

function userBlock(credential: Credential, permissions: SubjectPermissions): string {
  return [
    `    # ${credential.name}: ${credential.purpose}`,
    '    {',
    `      user: ${quote(credential.name)}`,
    `      password: ${quote(credential.password)}`,
    '      permissions: {',
    ...allowBlock('publish', permissions.publish, '        '),
    ...allowBlock('subscribe', permissions.subscribe, '        '),
    ...(permissions.allowResponses ? ['        allow_responses: true'] : []),
    '      }',
    '    }',
  ].join('\n');
}

/**
 * The authorization include file of a site: one user per credential with
 * the permissions of its role, and nothing for anyone else (a user without
 * permissions of its own may do nothing).
 */
export function authConfig(site: string, subjects: Subjects, credentials: Credential[]): string {
  const users = credentials.map((credential) =>
    userBlock(
      credential,
      permissionsFor(subjects, {
        role: credential.role,
        inboxPrefix: credential.inboxPrefix,
        services: credential.services,
      }),
    ),
  );
  return [
    `# NATS users of site ${site}, written by \`switchboard secure init\`; see docs/security.md.`,
    '# Include it in the server config (include "auth.conf"); reload the server after a change.',
    '# It holds passwords: keep it mode 0600, never commit it.',
    'authorization {',
    '  default_permissions: { publish: { deny: ">" }, subscribe: { deny: ">" } }',
    '  users: [',
    users.join('\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}

/** Files a server config for this host names. */
export interface ServerFiles {
  certFile: string;
  keyFile: string;
}

/**
 * A NATS server config for this host: the authorization include file next
 * to it, and TLS required with the test certificate. The port and address
 * are the command line's (`nats-server -c nats.conf -p 4222`).
 */
export function serverConfig(site: string, files: ServerFiles): string {
  return [
    `# NATS server of site ${site} on this host, written by \`switchboard secure init\`.`,
    '# TLS with the test certificate; users and permissions from auth.conf, next to this file.',
    `include ${quote(AUTH_FILE)}`,
    'tls {',
    `  cert_file: ${quote(files.certFile)}`,
    `  key_file: ${quote(files.keyFile)}`,
    '  timeout: 2',
    '}',
    '',
  ].join('\n');
}
