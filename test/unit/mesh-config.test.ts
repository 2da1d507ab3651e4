import { describe, expect, test } from 'vitest';
import {
  assignmentFor,
  hostsOf,
  type MeshConfig,
  MeshConfigError,
  parseMeshConfig,
  siteConnectionOptions,
} from '../../src/cli/mesh-config.js';

const FILE = '/etc/switchboard/mesh.yaml';

const EXAMPLE = `
sites:
  a: { nats: nats://10.0.0.1:4222, user: mesh, passFile: secrets/a-pass }
  b:
    nats: [nats://10.0.0.2:4222, nats://10.0.0.3:4222]
    creds: /run/secrets/b.creds
    tls: { ca: ca.pem }
  c: { nats: "10.0.0.4:4222", tokenFile: /run/secrets/c-token, prefix: mesh.c, inboxPrefix: _INBOX.c1 }
brokers:
  - { site: a, host: host-1 }
  - { site: b, host: [host-2, host-3], policy: round-robin, leaseFactor: 4, probeAfterMs: 3000 }
  - site: c
    maxInstances: 5000
    maxBridgeRoutes: 1000
    maxCallsInFlight: 800
    maxBytesInFlight: 1048576
    maxCallsPerCaller: 100
bridges:
  - { between: [a, b], host: host-1, export: ["calc*"], import: ["*"] }
  - { between: [b, c], maxHops: 3, maxCallsInFlight: 500, maxBytesInFlight: 65536, maxBytesPerCaller: 4096 }
`;

/** The message `parseMeshConfig` throws for `text`. */
function errorOf(text: string, file = 'mesh.yaml'): string {
  try {
    parseMeshConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(MeshConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('mesh config', () => {
  test('mesh config - parses sites, brokers and bridges, resolving paths against the file', () => {
    const config = parseMeshConfig(EXAMPLE, FILE);
    expect(config.sites.get('a')).toEqual({
      name: 'a',
      nats: ['nats://10.0.0.1:4222'],
      user: 'mesh',
      passFile: '/etc/switchboard/secrets/a-pass',
    });
    expect(config.sites.get('b')).toEqual({
      name: 'b',
      nats: ['nats://10.0.0.2:4222', 'nats://10.0.0.3:4222'],
      creds: '/run/secrets/b.creds',
      tls: { ca: '/etc/switchboard/ca.pem' },
    });
    expect(config.sites.get('c')).toMatchObject({
      nats: ['10.0.0.4:4222'],
      prefix: 'mesh.c',
      inboxPrefix: '_INBOX.c1',
    });
    expect(config.brokers).toEqual([
      { field: 'brokers[0]', site: 'a', hosts: ['host-1'] },
      {
        field: 'brokers[1]',
        site: 'b',
        hosts: ['host-2', 'host-3'],
        policy: 'round-robin',
        leaseFactor: 4,
        probeAfterMs: 3000,
      },
      {
        field: 'brokers[2]',
        site: 'c',
        maxInstances: 5000,
        maxBridgeRoutes: 1000,
        maxCallsInFlight: 800,
        maxBytesInFlight: 1048576,
        maxCallsPerCaller: 100,
      },
    ]);
    expect(config.bridges).toEqual([
      {
        field: 'bridges[0]',
        between: ['a', 'b'],
        hosts: ['host-1'],
        export: ['calc*'],
        import: ['*'],
      },
      {
        field: 'bridges[1]',
        between: ['b', 'c'],
        maxHops: 3,
        maxCallsInFlight: 500,
        maxBytesInFlight: 65536,
        maxBytesPerCaller: 4096,
      },
    ]);
  });

  test('mesh config - JSON is accepted too', () => {
    const json = JSON.stringify({
      sites: { a: { nats: 'nats://a:4222' }, b: { nats: 'tls://b:4222' } },
      bridges: [{ between: ['a', 'b'] }],
    });
    const config = parseMeshConfig(json, 'mesh.json');
    expect([...config.sites.keys()]).toEqual(['a', 'b']);
    expect(config.brokers).toEqual([]);
    expect(config.bridges).toHaveLength(1);
  });

  test('mesh config - a host runs what is assigned to it and what is assigned to no host', () => {
    const config = parseMeshConfig(EXAMPLE, FILE);
    const sitesOf = (host: string) => {
      const { brokers, bridges } = assignmentFor(config, host);
      return [...brokers.map((b) => b.site), ...bridges.map((b) => b.between.join('-'))];
    };
    expect(sitesOf('host-1')).toEqual(['a', 'c', 'a-b', 'b-c']);
    expect(sitesOf('host-3')).toEqual(['b', 'c', 'b-c']);
    expect(sitesOf('elsewhere')).toEqual(['c', 'b-c']);
    expect(hostsOf(config)).toEqual(['host-1', 'host-2', 'host-3']);
  });

  const SITES = 'sites: { a: { nats: nats://a:4222 }, b: { nats: nats://b:4222 } }\n';
  const ONE_SITE = 'sites: { a: { nats: n:1';

  /** A config, and the whole message (string) or its shape (RegExp) that refuses it. */
  const refusals: [string, string, string | RegExp][] = [
    // Brokers and bridges: names of defined sites, known values.
    [
      'bridge between an unknown site',
      `${SITES}bridges: [ { between: [a, x] } ]`,
      `mesh.yaml: bridges[0].between: expected two different sites defined under 'sites': a, b (got "a, x")`,
    ],
    [
      'bridge between a site and itself',
      `${SITES}bridges: [ { between: [a, a] } ]`,
      /^mesh\.yaml: bridges\[0\]\.between: expected two different sites .*\(got "a, a"\)$/,
    ],
    ['bridge between one site', `${SITES}bridges: [ { between: a } ]`, /between: .*\(got "a"\)$/],
    [
      'broker of an unknown site',
      `${SITES}brokers: [ { site: z } ]`,
      `mesh.yaml: brokers[0].site: expected a site defined under 'sites': a, b (got "z")`,
    ],
    [
      'unknown policy',
      `${SITES}brokers: [ { site: a, policy: fastest } ]`,
      'mesh.yaml: brokers[0].policy: expected one of round-robin, least-outstanding (got "fastest")',
    ],
    [
      'lease factor below 1',
      `${SITES}brokers: [ { site: a, leaseFactor: 0 } ]`,
      'mesh.yaml: brokers[0].leaseFactor: expected a number of at least 1 (got 0)',
    ],
    [
      'fractional hop limit',
      `${SITES}bridges: [ { between: [a, b], maxHops: 1.5 } ]`,
      'mesh.yaml: bridges[0].maxHops: expected an integer of at least 1 (got 1.5)',
    ],
    [
      'a bridge share of no routes',
      `${SITES}brokers: [ { site: a, maxBridgeRoutes: 0 } ]`,
      'mesh.yaml: brokers[0].maxBridgeRoutes: expected an integer of at least 1 (got 0)',
    ],
    [
      'a fractional in-flight limit',
      `${SITES}bridges: [ { between: [a, b], maxCallsInFlight: 2.5 } ]`,
      'mesh.yaml: bridges[0].maxCallsInFlight: expected an integer of at least 1 (got 2.5)',
    ],
    [
      'a registry limit on a bridge',
      `${SITES}bridges: [ { between: [a, b], maxInstances: 10 } ]`,
      /^mesh\.yaml: bridges\[0\]\.maxInstances: expected one of the keys between, .*maxBytesPerCaller \(unknown key\)$/,
    ],
    [
      'empty export list',
      `${SITES}bridges: [ { between: [a, b], export: [] } ]`,
      'mesh.yaml: bridges[0].export: expected a list of glob patterns of service names (got "")',
    ],
    [
      'a glob with a character no service name has',
      `${SITES}bridges: [ { between: [a, b], export: ["calc*", "calc["] } ]`,
      /^mesh\.yaml: bridges\[0\]\.export\[1\]: expected a glob of letters, digits, '_' and '-' .*\(got "calc\["\)$/,
    ],
    [
      'brokers not a list',
      `${SITES}brokers: { site: a }`,
      'mesh.yaml: brokers: expected a list of brokers (got a mapping)',
    ],
    [
      'empty host',
      `${SITES}brokers: [ { site: a, host: "" } ]`,
      /^mesh\.yaml: brokers\[0\]\.host: expected a host name or a list of host names/,
    ],
    // Unknown keys, at every level.
    [
      'unknown site key',
      'sites: { a: { nats: nats://a:4222, password: x } }',
      'mesh.yaml: sites.a.password: expected one of the keys nats, user, pass, passFile, token, tokenFile, creds, tls, prefix, inboxPrefix (unknown key)',
    ],
    [
      'unknown top-level key',
      'sites: { a: { nats: nats://a:4222 } }\nbrige: []',
      'mesh.yaml: brige: expected one of the keys sites, brokers, bridges (unknown key)',
    ],
    [
      'unknown broker key',
      `${SITES}brokers: [ { site: a, hosts: [x] } ]`,
      /^mesh\.yaml: brokers\[0\]\.hosts: expected one of the keys site, host, /,
    ],
    [
      'unknown tls key',
      `${ONE_SITE}, tls: { ca: x, crt: y } } }`,
      /^mesh\.yaml: sites\.a\.tls\.crt: expected one of the keys ca, cert, key/,
    ],
    // Sites: a name, a NATS URL, consistent credentials.
    ['no site', 'sites: {}', 'mesh.yaml: sites: expected at least one site (got a mapping)'],
    [
      'no sites key',
      'brokers: []',
      'mesh.yaml: sites: expected a mapping of site names to their NATS (got nothing)',
    ],
    [
      'no NATS URL',
      'sites: { a: {} }',
      'mesh.yaml: sites.a.nats: expected the NATS URL of the site',
    ],
    [
      'bad site name',
      'sites: { "a b": { nats: nats://x:4222 } }',
      /^mesh\.yaml: sites\.a b: expected a site name of letters, digits/,
    ],
    [
      'not a NATS URL',
      'sites: { a: { nats: http://x:4222 } }',
      'mesh.yaml: sites.a.nats: expected a NATS URL such as nats://host:4222 or tls://host:4222 (got "http://x:4222")',
    ],
    [
      'bad URL in a list',
      'sites: { a: { nats: [nats://x:4222, "nats://y z"] } }',
      /^mesh\.yaml: sites\.a\.nats\[1\]: expected a NATS URL/,
    ],
    [
      'user without password',
      `${ONE_SITE}, user: u } }`,
      "mesh.yaml: sites.a.user: expected a password with it ('pass' or 'passFile')",
    ],
    [
      'password without user',
      `${ONE_SITE}, passFile: p } }`,
      "mesh.yaml: sites.a.passFile: expected a 'user' with it",
    ],
    [
      'two passwords',
      `${ONE_SITE}, user: u, pass: p, passFile: f } }`,
      "mesh.yaml: sites.a.passFile: expected either 'pass' or 'passFile', not both",
    ],
    [
      'token with creds',
      `${ONE_SITE}, token: t, creds: c } }`,
      "mesh.yaml: sites.a.token: expected no 'user' or 'creds' with a token",
    ],
    [
      'certificate without key',
      `${ONE_SITE}, tls: { cert: c } } }`,
      "mesh.yaml: sites.a.tls.key: expected 'cert' and 'key' together",
    ],
    [
      'bad prefix',
      `${ONE_SITE}, prefix: "sb.*" } }`,
      /^mesh\.yaml: sites\.a\.prefix: expected NATS subject tokens/,
    ],
    [
      'inbox prefix outside _INBOX',
      `${ONE_SITE}, inboxPrefix: "replies.a" } }`,
      'mesh.yaml: sites.a.inboxPrefix: expected _INBOX or _INBOX.<tokens>, e.g. _INBOX.mesh (got "replies.a")',
    ],
    // Not YAML at all, or not the right shape.
    ['broken YAML', 'sites: { a: [', /^mesh\.yaml: not valid YAML or JSON: .*line 1/],
    ['duplicate key', 'sites: {}\nsites: {}', /^mesh\.yaml: not valid YAML or JSON: .*unique/],
    [
      'a list',
      '- a\n- b',
      `mesh.yaml: expected a mapping with 'sites', 'brokers' and 'bridges' (got "a, b")`,
    ],
  ];

  test.each(refusals)(
    'mesh config - refuses %s, naming file, field and expectation',
    (_what, text, message) => {
      if (typeof message === 'string') expect(errorOf(text)).toBe(message);
      else expect(errorOf(text)).toMatch(message);
    },
  );

  test('mesh config - connection options read secret files and name the field when they cannot', () => {
    const config: MeshConfig = parseMeshConfig(EXAMPLE, FILE);
    const files: Record<string, string> = {
      '/etc/switchboard/secrets/a-pass': 's3cret\n',
      '/run/secrets/c-token': '  tok  ',
    };
    const read = (path: string) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return text;
    };
    expect(siteConnectionOptions(config, 'a', read)).toEqual({
      nats: 'nats://10.0.0.1:4222',
      user: 'mesh',
      pass: 's3cret',
    });
    expect(siteConnectionOptions(config, 'b', read)).toEqual({
      nats: ['nats://10.0.0.2:4222', 'nats://10.0.0.3:4222'],
      credsFile: '/run/secrets/b.creds',
      tls: { caFile: '/etc/switchboard/ca.pem' },
    });
    expect(siteConnectionOptions(config, 'c', read)).toEqual({
      nats: '10.0.0.4:4222',
      token: 'tok',
      prefix: 'mesh.c',
      inboxPrefix: '_INBOX.c1',
    });
    delete files['/run/secrets/c-token'];
    expect(() => siteConnectionOptions(config, 'c', read)).toThrow(
      `${FILE}: sites.c.tokenFile: expected a readable file (cannot read /run/secrets/c-token: ENOENT)`,
    );
    files['/run/secrets/c-token'] = '\n';
    expect(() => siteConnectionOptions(config, 'c', read)).toThrow(
      `${FILE}: sites.c.tokenFile: expected /run/secrets/c-token not to be empty`,
    );
  });
});
