import { describe, expect, test } from 'vitest';
import { envFilesOf, passwordIn } from '../../src/cli/secure/env-files.js';
import { authConfig, type Credential, serverConfig } from '../../src/cli/secure/nats-config.js';
import { newPassword } from '../../src/cli/secure/secure-init.js';
import {
  certificateHosts,
  checkSecureInitOptions,
  planIdentities,
  type SecureInitOptions,
} from '../../src/cli/secure/site-plan.js';
import { subjectsFor } from '../../src/protocol/index.js';

const OPTIONS: SecureInitOptions = {
  site: 'a',
  out: '/etc/switchboard/a',
  services: ['calculator'],
  bridgeTo: ['b'],
  rotate: [],
  tlsHosts: [],
  prefix: 'sb',
};

/** The message `checkSecureInitOptions` throws for `changes`, or undefined. */
function problem(changes: Partial<SecureInitOptions>): string | undefined {
  try {
    checkSecureInitOptions({ ...OPTIONS, ...changes });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  }
}

describe('secure init plan', () => {
  test('secure init - a site has a broker, a client, an observer, a server per service and a bridge per peer', () => {
    const plan = planIdentities(OPTIONS);
    expect(plan.map(({ name, role, inboxPrefix }) => [name, role, inboxPrefix])).toEqual([
      ['broker', 'broker', '_INBOX.broker'],
      ['client', 'client', '_INBOX.client'],
      ['observer', 'observer', '_INBOX.observer'],
      ['server-calculator', 'server', '_INBOX.server-calculator'],
      ['bridge-b', 'bridge', '_INBOX.bridge-b'],
    ]);
    expect(plan[3]?.services).toEqual(['calculator']);
    expect(plan[4]?.peer).toBe('b');
  });

  test('secure init - options are checked in one place, each message naming its option', () => {
    expect(problem({})).toBeUndefined();
    expect(problem({ site: 'a b' })).toMatch(/^--site: 'a b' is not a name/);
    expect(problem({ services: ['calc', 'calc'] })).toBe("--service: 'calc' is given twice");
    expect(problem({ services: ['calc.add'] })).toMatch(/^--service: 'calc\.add' is not a name/);
    expect(problem({ bridgeTo: ['a'] })).toBe(
      "--bridge-to: 'a' is this site: a bridge links two sites",
    );
    expect(problem({ rotate: ['server-greeter'] })).toBe(
      "--rotate: 'server-greeter' is not an identity of this site: broker, client, observer, server-calculator, bridge-b",
    );
    expect(problem({ tlsHosts: ['nats a'] })).toMatch(/^--tls-host: 'nats a' is not a host/);
    expect(problem({ tlsHosts: ['10..0.1'] })).toMatch(/^--tls-host: '10\.\.0\.1' is not a host/);
    expect(problem({ tlsHosts: ['nats.example.com', '10.0.0.1', 'fe80::1'] })).toBeUndefined();
    expect(problem({ prefix: 'sb.*' })).toMatch(/^--prefix: /);
    expect(problem({ out: '/tmp/my secrets' })).toMatch(
      /^--out: '\/tmp\/my secrets' holds a blank/,
    );
  });

  test('secure init - the server certificate names loopback, nats and nats-SITE, and the hosts given', () => {
    expect(certificateHosts('a', ['host-a.example.com', 'nats'])).toEqual([
      'localhost',
      '127.0.0.1',
      '::1',
      'nats',
      'nats-a',
      'host-a.example.com',
    ]);
  });
});

describe('secure init files', () => {
  const credentials: Credential[] = planIdentities(OPTIONS).map((identity, i) => ({
    ...identity,
    password: `password-${i}-0123456789abcdef`,
  }));

  test('secure init - the auth include file has one user per identity and denies everyone else everything', () => {
    const text = authConfig('a', subjectsFor(), credentials);
    expect(text).toMatch(/^authorization \{$/m);
    expect(text).toContain(
      'default_permissions: { publish: { deny: ">" }, subscribe: { deny: ">" } }',
    );
    for (const c of credentials) {
      expect(text).toContain(`user: "${c.name}"\n      password: "${c.password}"`);
    }
    // The server of calculator: its own subjects only.
    const server = text.slice(
      text.indexOf('user: "server-calculator"'),
      text.indexOf('user: "bridge-b"'),
    );
    expect(server).toContain('"sb.broker.register.calculator"');
    expect(server).toContain('"sb.instance.calculator.*"');
    expect(server).not.toContain('sb.broker.route.');
    expect(server).toContain('allow_responses: true');
  });

  test('secure init - the server config includes auth.conf and requires TLS with the files given', () => {
    const text = serverConfig('a', {
      certFile: '/x/server-cert.pem',
      keyFile: '/x/server-key.pem',
    });
    expect(text).toContain('include "auth.conf"');
    expect(text).toMatch(
      /tls \{\n {2}cert_file: "\/x\/server-cert.pem"\n {2}key_file: "\/x\/server-key.pem"/,
    );
  });

  test('secure init - env files set user, password, inbox prefix and CA; a bridge gets one per side', () => {
    const [broker] = envFilesOf('a', credentials[0] as Credential, '/x/ca.pem', 'sb');
    expect(broker?.file).toBe('broker.env');
    expect(broker?.text.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'SWITCHBOARD_USER=broker',
      `SWITCHBOARD_PASS=${credentials[0]?.password}`,
      'SWITCHBOARD_INBOX_PREFIX=_INBOX.broker',
      'SWITCHBOARD_TLS_CA=/x/ca.pem',
      '',
    ]);
    const bridge = envFilesOf('a', credentials[4] as Credential, '/x/ca.pem', 'acme');
    expect(bridge.map((f) => f.file)).toEqual(['bridge-b.local.env', 'bridge-b.remote.env']);
    expect(bridge[1]?.text).toContain('SWITCHBOARD_REMOTE_USER=bridge-b\n');
    expect(bridge[1]?.text).toContain('SWITCHBOARD_REMOTE_INBOX_PREFIX=_INBOX.bridge-b\n');
    expect(bridge[1]?.text).toContain('SWITCHBOARD_PREFIX=acme\n');
    expect(passwordIn(bridge[0]?.text ?? '', 'bridge-b', 'local')).toBe(credentials[4]?.password);
    expect(passwordIn(broker?.text ?? '', 'client')).toBeUndefined();
  });
});

describe('secure init passwords', () => {
  test('secure init - a new password is 32 base64url characters and never starts with "-" (a command line would take it for an option)', () => {
    const passwords = Array.from({ length: 2000 }, newPassword);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
    expect(new Set(passwords).size).toBe(passwords.length);
  });
});
