/**
 * The deploy files checked without Docker: every command a container runs
 * parses with the CLI's own parser (in the container's environment), NATS URLs
 * name NATS services of the same file on a shared network, bridges are the
 * only links between site networks, referenced files exist, no secret is
 * written down, and docs/deploy.md shows the files as they are.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import * as commands from '../../src/cli/commands/index.js';
import { type CliIo, run } from '../../src/cli/index.js';
import { parseMeshConfig } from '../../src/cli/mesh-config.js';
import {
  type ComposeModel,
  type ComposeService,
  DEPLOY,
  loadCompose,
  MESH_COMPOSE,
  MESH_SECURE,
  natsUrlsOf,
  REPO,
  runsNats,
  runsSwitchboard,
} from './deploy-compose-file.js';
import { makeDeploySecrets } from './deploy-secrets.js';

const ENTRYPOINT = ['node', '/app/dist/cli/main.js'];
const SITE_COMPOSE = 'site.compose.yml';
const SITE_SECURE = 'site.secure.yml';
const SITE_CLUSTER = 'site.cluster.yml';
/** What the docs tell `docker compose` for one site. */
const SITE_VARS = { SWITCHBOARD_SITE: 'a' };
/** Where the secured files find their material: made by `secure init`, as their comments say. */
const secrets = await makeDeploySecrets();
afterAll(() => secrets.remove());
const SECURE_SITE_VARS = { ...SITE_VARS, SWITCHBOARD_SECRETS: secrets.site('a') };
const SECURE_MESH_VARS = { SWITCHBOARD_SECRETS: secrets.dir };
/** How the secured files name the directory of the material. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a compose interpolation, as the files write it
const SECRETS_DIR = '${SWITCHBOARD_SECRETS:-./secrets}/';

/** The compose models under test: the mesh and one site, open and secured, and one site on a cluster. */
const MODELS: [string, ComposeModel][] = [
  [MESH_COMPOSE, loadCompose([MESH_COMPOSE])],
  [`${MESH_COMPOSE} + ${MESH_SECURE}`, loadCompose([MESH_COMPOSE, MESH_SECURE], SECURE_MESH_VARS)],
  [SITE_COMPOSE, loadCompose([SITE_COMPOSE], SITE_VARS)],
  [`${SITE_COMPOSE} + ${SITE_SECURE}`, loadCompose([SITE_COMPOSE, SITE_SECURE], SECURE_SITE_VARS)],
  [SITE_CLUSTER, loadCompose([SITE_CLUSTER], SITE_VARS)],
];

interface Parsed {
  code: number;
  /** The yargs command string of the command that would run, e.g. `broker`. */
  command?: string;
  args?: Record<string, unknown>;
  stderr: string;
}

/**
 * Parses `argv` with the CLI's own `run()`, every command's action replaced by
 * a spy: the real parser, strict mode, environment variables and all, but
 * nothing starts. `env` is the container's environment.
 */
async function parseCli(argv: readonly string[], env: Record<string, string>): Promise<Parsed> {
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('SWITCHBOARD_')) delete process.env[name];
  }
  Object.assign(process.env, env);
  let stderr = '';
  const io: CliIo = {
    stdout: () => {},
    stderr: (text) => {
      stderr += text;
    },
  };
  try {
    ran.length = 0;
    const code = await run(argv, io);
    return { code, ...ran[0], stderr };
  } finally {
    for (const name of Object.keys(process.env)) {
      if (!(name in saved)) delete process.env[name];
    }
    Object.assign(process.env, saved);
  }
}

/** What the spied commands were given. */
const ran: { command: string; args: Record<string, unknown> }[] = [];

beforeAll(() => {
  for (const command of Object.values(commands)) {
    if (!('run' in command)) continue; // a group: its subcommands are spied on
    vi.spyOn(command, 'run').mockImplementation(async (args: unknown) => {
      ran.push({ command: command.command, args: args as Record<string, unknown> });
      return 0;
    });
  }
});

afterAll(() => {
  vi.restoreAllMocks();
});

function switchboardServices(model: ComposeModel): ComposeService[] {
  return [...model.services.values()].filter(runsSwitchboard);
}

function argvOf(service: ComposeService): string[] {
  expect(Array.isArray(service.command), `${service.name}: command must be a list`).toBe(true);
  return (service.command as unknown[]).map(String);
}

const bridges = (model: ComposeModel) =>
  switchboardServices(model).filter((s) => argvOf(s)[0] === 'bridge');

/** The NATS service a URL of `service` names, checked to exist. */
function natsServiceFor(model: ComposeModel, service: ComposeService, url: string) {
  const target = model.services.get(url.replace(/^\w+:\/\/([^:/]+).*$/, '$1'));
  expect(target, `${service.name}: ${url} names no service of the file`).toBeDefined();
  expect(runsNats(target as ComposeService), `${service.name}: ${url} is not a NATS service`).toBe(
    true,
  );
  return target as ComposeService;
}

describe('deploy - compose files', () => {
  test.each(MODELS)(
    'deploy - %s: each container command and healthcheck parses with the CLI parser',
    async (_file, model) => {
      const services = switchboardServices(model);
      expect(services.length).toBeGreaterThan(0);
      for (const service of services) {
        const parsed = await parseCli(argvOf(service), service.environment);
        expect(parsed.stderr, service.name).toBe('');
        expect(parsed.code, service.name).toBe(0);
        expect(parsed.command?.split(' ')[0], service.name).toBe(argvOf(service)[0]);
        // Every SWITCHBOARD_* variable is an option of the command it configures.
        for (const [name, value] of Object.entries(service.environment)) {
          expect(name, service.name).toMatch(/^SWITCHBOARD_[A-Z0-9_]+$/);
          const key = name
            .slice('SWITCHBOARD_'.length)
            .toLowerCase()
            .replace(/_(.)/g, (_m, c: string) => c.toUpperCase());
          expect(parsed.args?.[key], `${service.name}: ${name} is not an option`).toBeDefined();
          if (typeof parsed.args?.[key] === 'string') expect(parsed.args[key]).toBe(value);
        }
        const check = service.healthcheck?.test;
        if (check === undefined || !(check as unknown[]).includes(ENTRYPOINT[1])) continue;
        const [kind, ...line] = (check as unknown[]).map(String);
        expect(kind).toBe('CMD');
        expect(line.slice(0, 2), `${service.name}: healthcheck runs the CLI`).toEqual(ENTRYPOINT);
        const health = await parseCli(line.slice(2), service.environment);
        expect(health.stderr, `${service.name} healthcheck`).toBe('');
        expect(health.code, `${service.name} healthcheck`).toBe(0);
      }
    },
  );

  test.each(MODELS)(
    'deploy - %s: every NATS URL names a NATS service on a network the container shares',
    (_file, model) => {
      for (const service of switchboardServices(model)) {
        const urls = natsUrlsOf(service);
        expect(urls.length, `${service.name} names no NATS`).toBeGreaterThan(0);
        for (const { url, port } of urls) {
          const nats = natsServiceFor(model, service, url);
          expect(port, url).toBe(4222);
          const shared = nats.networks.filter((n) => service.networks.includes(n));
          expect(shared, `${service.name} cannot reach ${nats.name}`).toHaveLength(1);
        }
      }
    },
  );

  test('deploy - the mesh: three sites, each its own NATS and network; bridges A-B and B-C', () => {
    const model = loadCompose([MESH_COMPOSE]);
    const natsServices = [...model.services.values()].filter(runsNats);
    expect(natsServices.map((s) => s.name).sort()).toEqual(['nats-a', 'nats-b', 'nats-c']);
    const siteOfNetwork = new Map<string, string>();
    for (const nats of natsServices) {
      expect(nats.networks, nats.name).toHaveLength(1);
      const network = nats.networks[0] as string;
      expect(siteOfNetwork.has(network), `${network} has two NATS`).toBe(false);
      siteOfNetwork.set(network, nats.name);
    }
    expect([...siteOfNetwork.keys()].sort()).toEqual(['site-a', 'site-b', 'site-c']);
    expect(model.networks.sort()).toEqual(['site-a', 'site-b', 'site-c']);

    // Each bridge sits on exactly the networks of the two NATS it names.
    const links: string[] = [];
    for (const bridge of bridges(model)) {
      const env = bridge.environment;
      const ends = [env.SWITCHBOARD_LOCAL, env.SWITCHBOARD_REMOTE].map(
        (url) => natsServiceFor(model, bridge, url ?? '').networks[0] as string,
      );
      expect(new Set(ends).size, `${bridge.name} links a site to itself`).toBe(2);
      expect([...bridge.networks].sort(), bridge.name).toEqual([...ends].sort());
      links.push(ends.sort().join(' + '));
    }
    expect(links.sort()).toEqual(['site-a + site-b', 'site-b + site-c']);

    // Nothing else joins two networks: sites share nothing but bridges.
    for (const service of model.services.values()) {
      if (bridges(model).includes(service)) continue;
      expect(service.networks, service.name).toHaveLength(1);
    }
    // Each site runs a broker and an example server; site a the dashboard too.
    for (const site of ['a', 'b', 'c']) {
      const here = switchboardServices(model).filter((s) => s.networks.join() === `site-${site}`);
      const kinds = here.map((s) => argvOf(s)[0]).sort();
      expect(kinds, `site ${site}`).toEqual(
        site === 'a' ? ['broker', 'dashboard', 'serve-example'] : ['broker', 'serve-example'],
      );
      const broker = here.find((s) => argvOf(s)[0] === 'broker');
      expect(broker?.environment.SWITCHBOARD_SITE).toBe(site);
    }
  });

  test.each(MODELS)(
    'deploy - %s: health checks, restart policies and start order',
    (_file, model) => {
      for (const service of model.services.values()) {
        expect(service.restart, service.name).toBe('unless-stopped');
        if (runsNats(service) || argvOf(service)[0] === 'broker') {
          expect(service.healthcheck?.test, `${service.name} has no healthcheck`).toBeDefined();
        }
        for (const [needed, condition] of Object.entries(service.dependsOn)) {
          const other = model.services.get(needed);
          expect(other, `${service.name} depends on unknown ${needed}`).toBeDefined();
          if (condition === 'service_healthy') {
            expect(other?.healthcheck, `${needed} has no healthcheck`).toBeDefined();
          }
        }
        if (runsSwitchboard(service)) {
          expect(Object.keys(service.dependsOn).length, service.name).toBeGreaterThan(0);
        }
      }
    },
  );

  test.each(MODELS)(
    'deploy - %s: referenced files exist and no secret is written down',
    (file, model) => {
      for (const service of model.services.values()) {
        if (service.buildContext !== undefined) {
          expect(statSync(service.buildContext).isDirectory()).toBe(true);
          expect(existsSync(join(service.buildContext, service.dockerfile ?? 'Dockerfile'))).toBe(
            true,
          );
        }
        for (const volume of service.volumes) {
          const source = volume.split(':')[0] as string;
          expect(source, `${service.name}: mount files, not volumes`).toMatch(/^\.{1,2}\//);
          expect(existsSync(join(DEPLOY, source)), `${service.name}: ${source}`).toBe(true);
        }
        for (const secret of service.secrets) {
          expect(model.secrets[secret], `${service.name}: secret ${secret}`).toBeDefined();
        }
        // Passwords and tokens only through ${...}; key and credential files only from /run/secrets.
        for (const [name, value] of Object.entries(service.rawEnvironment)) {
          if (/(PASS|PASSWORD|TOKEN|SECRET)$/.test(name)) {
            expect(String(value), `${file}: ${service.name}.${name}`).toMatch(/^\$\{[^}]+\}$/);
          }
          if (/_(CREDS|TLS_KEY|TLS_CERT|TLS_CA)$/.test(name)) {
            expect(String(value), `${file}: ${service.name}.${name}`).toMatch(/^\/run\/secrets\//);
          }
        }
      }
      // Secret and env files are the user's own: in SWITCHBOARD_SECRETS, by default
      // the git-ignored deploy/secrets/.
      for (const path of Object.values(model.rawSecrets)) {
        expect(path.startsWith(SECRETS_DIR), path).toBe(true);
      }
      for (const service of model.services.values()) {
        for (const path of service.rawEnvFiles) {
          expect(path.startsWith(SECRETS_DIR), `${service.name}: ${path}`).toBe(true);
        }
      }
    },
  );

  test('deploy - the secured site: NATS with TLS and the users of secure init; each container its own credential', () => {
    const model = loadCompose([SITE_COMPOSE, SITE_SECURE], SECURE_SITE_VARS);
    const nats = model.services.get('nats');
    expect(nats?.command).toEqual(['--config', '/etc/nats/secure.conf']);
    expect(nats?.environment).toEqual({ NATS_SERVER_NAME: 'nats-a' });
    expect(nats?.volumes).toContain('./nats/secure.conf:/etc/nats/secure.conf:ro');
    expect(nats?.secretMounts).toEqual({
      '/etc/nats/auth.conf': join(secrets.site('a'), 'auth.conf'),
      '/run/secrets/server-cert': join(secrets.site('a'), 'server-cert.pem'),
      '/run/secrets/server-key': join(secrets.site('a'), 'server-key.pem'),
    });
    const conf = readFileSync(join(DEPLOY, 'nats/secure.conf'), 'utf8');
    expect(conf).toMatch(/^include "auth\.conf"$/m);
    // A name from the command line would make every reload fail (nats-server 2.9).
    expect(conf).toMatch(/^server_name: \$NATS_SERVER_NAME$/m);
    expect(conf).toContain('cert_file: /run/secrets/server-cert');
    for (const [name, user] of [
      ['broker', 'broker'],
      ['calculator', 'server-calculator'],
    ] as const) {
      const service = model.services.get(name);
      expect(service?.environment).toMatchObject({
        SWITCHBOARD_NATS: 'tls://nats:4222',
        SWITCHBOARD_USER: user,
        SWITCHBOARD_INBOX_PREFIX: `_INBOX.${user}`,
        SWITCHBOARD_TLS_CA: '/run/secrets/ca',
      });
      expect(service?.secretMounts['/run/secrets/ca']).toBe(join(secrets.site('a'), 'ca.pem'));
    }
    expect(() => loadCompose([SITE_COMPOSE])).toThrow(/SWITCHBOARD_SITE/);
    const ignored = readFileSync(join(DEPLOY, '.gitignore'), 'utf8');
    expect(ignored).toMatch(/^secrets\/\*$/m);
  });

  test('deploy - the secured mesh: TLS on every link; each broker, server and bridge side logs in as its own role', () => {
    const model = loadCompose([MESH_COMPOSE, MESH_SECURE], SECURE_MESH_VARS);
    const material = (site: string, file: string) => join(secrets.site(site), file);
    for (const site of ['a', 'b', 'c']) {
      const nats = model.services.get(`nats-${site}`);
      expect(nats?.command).toEqual(['--config', '/etc/nats/secure.conf']);
      expect(nats?.environment).toEqual({ NATS_SERVER_NAME: `nats-${site}` });
      expect(nats?.secretMounts['/etc/nats/auth.conf']).toBe(material(site, 'auth.conf'));
      for (const [name, user] of [
        [`broker-${site}`, 'broker'],
        [`calculator-${site}`, 'server-calculator'],
      ]) {
        const service = model.services.get(name as string);
        expect(service?.environment, name).toMatchObject({
          SWITCHBOARD_NATS: `tls://nats-${site}:4222`,
          SWITCHBOARD_USER: user,
          SWITCHBOARD_INBOX_PREFIX: `_INBOX.${user}`,
        });
        expect(service?.secretMounts['/run/secrets/ca'], name).toBe(material(site, 'ca.pem'));
      }
    }
    for (const [name, local, remote] of [
      ['bridge-ab', 'a', 'b'],
      ['bridge-bc', 'b', 'c'],
    ] as const) {
      const bridge = model.services.get(name);
      expect(bridge?.environment, name).toMatchObject({
        SWITCHBOARD_LOCAL: `tls://nats-${local}:4222`,
        SWITCHBOARD_LOCAL_USER: `bridge-${remote}`,
        SWITCHBOARD_LOCAL_INBOX_PREFIX: `_INBOX.bridge-${remote}`,
        SWITCHBOARD_LOCAL_TLS_CA: `/run/secrets/ca-${local}`,
        SWITCHBOARD_REMOTE: `tls://nats-${remote}:4222`,
        SWITCHBOARD_REMOTE_USER: `bridge-${local}`,
        SWITCHBOARD_REMOTE_INBOX_PREFIX: `_INBOX.bridge-${local}`,
        SWITCHBOARD_REMOTE_TLS_CA: `/run/secrets/ca-${remote}`,
      });
      expect(bridge?.secretMounts[`/run/secrets/ca-${local}`]).toBe(material(local, 'ca.pem'));
    }
    for (const service of model.services.values()) {
      for (const { url } of runsSwitchboard(service) ? natsUrlsOf(service) : []) {
        expect(url, service.name).toMatch(/^tls:\/\//);
      }
    }
  });

  test('deploy - the clustered site: three NATS nodes routed to each other; components given all three', () => {
    const model = loadCompose([SITE_CLUSTER], SITE_VARS);
    const nodes = [...model.services.values()].filter(runsNats).map((s) => s.name);
    expect(nodes).toEqual(['nats-1', 'nats-2', 'nats-3']);
    for (const name of nodes) {
      const argv = argvOf(model.services.get(name) as ComposeService);
      const flag = (option: string) => argv[argv.indexOf(option) + 1] ?? '';
      expect(flag('--name'), name).toBe(`nats-a-${name.slice(-1)}`);
      expect(flag('--cluster_name'), name).toBe('site-a');
      expect(flag('--cluster'), name).toBe('nats://0.0.0.0:6222');
      // Each node solicits the other two; no node routes to itself.
      const routes = flag('--routes')
        .split(',')
        .map((url) => new URL(url))
        .map((url) => `${url.hostname}:${url.port}`);
      const others = nodes.filter((other) => other !== name).map((other) => `${other}:6222`);
      expect(routes.sort(), name).toEqual(others);
      expect(argv, name).toContain('--no_advertise');
    }
    for (const service of switchboardServices(model)) {
      const hosts = natsUrlsOf(service).map((url) => url.host);
      expect(hosts, `${service.name} is given every node`).toEqual(nodes);
      for (const node of nodes)
        expect(service.dependsOn[node] ?? service.dependsOn.broker).toBe('service_healthy');
    }
  });

  test('deploy - the Dockerfile: multi-stage, non-root, the CLI as entrypoint', () => {
    const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    const stages = dockerfile.match(/^FROM /gm) ?? [];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    // npm ci trusts an extra CA only through the npm-ca build secret: TLS stays
    // verified, and nothing of it lands in a layer.
    expect(dockerfile).toMatch(/^RUN --mount=type=secret,id=npm-ca \\\n[^\n]*\n\s+&& npm ci\b/m);
    expect(dockerfile).not.toMatch(/strict-ssl|NODE_TLS_REJECT_UNAUTHORIZED/);
    // A `# syntax=` line makes BuildKit fetch its frontend from a registry.
    expect(dockerfile).not.toMatch(/^# *syntax=/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-alpine$/m);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toContain(`ENTRYPOINT ${JSON.stringify(ENTRYPOINT).replace(',', ', ')}`);
    expect(runtime).not.toMatch(/^(ENV|ARG) .*(PASS|TOKEN|SECRET)/m);
    expect(runtime).not.toMatch(/--mount|NODE_EXTRA_CA_CERTS/);
    // The build context lets in what the build copies, and nothing else worth hiding.
    const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8');
    for (const copied of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const path of (copied[1] as string).split(/\s+/)) {
        const kept = ignore.split('\n').some((line) => line === `!${path}` || line === `!${path}/`);
        expect(kept, `.dockerignore keeps out ${path}`).toBe(true);
        expect(existsSync(join(REPO, path)), path).toBe(true);
      }
    }
  });

  test('deploy - the example mesh config of `switchboard up` is valid', async () => {
    const file = join(DEPLOY, 'mesh.example.yaml');
    const config = parseMeshConfig(readFileSync(file, 'utf8'), file);
    expect([...config.sites.keys()]).toEqual(['a', 'b', 'c']);
    expect(config.bridges.map((b) => b.between.join('-'))).toEqual(['a-b', 'b-c']);
  });
});

describe('deploy - docs/deploy.md', () => {
  const docs = readFileSync(join(REPO, 'docs/deploy.md'), 'utf8');
  /** Fenced blocks: language and text. */
  const blocks = [...docs.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] as string,
    text: m[2] as string,
  }));

  test('deploy - docs quote the deploy files exactly', () => {
    let quoted = 0;
    for (const { text } of blocks) {
      const named = /^# (deploy\/[^\s:]+)/.exec(text);
      if (!named) continue;
      quoted += 1;
      const path = named[1] as string;
      expect(text, `docs/deploy.md quotes ${path}`).toBe(readFileSync(join(REPO, path), 'utf8'));
    }
    expect(quoted).toBeGreaterThan(0);
    // Files the docs name exist.
    for (const m of docs.matchAll(/`(deploy\/[\w./-]+\w)`/g)) {
      expect(existsSync(join(REPO, m[1] as string)), m[1]).toBe(true);
    }
  });

  test('deploy - every switchboard command line in the docs parses', async () => {
    const lines = blocks
      .filter((b) => b.lang === 'sh')
      .flatMap((b) => b.text.replace(/\\\n\s*/g, ' ').split('\n'))
      .filter((line) => /(^|\s)switchboard\s/.test(line) && !/^\s*#|-t switchboard\b/.test(line));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      const words = shellWords(line.replace(/\s+#.*$/, ''));
      const at = words.indexOf('switchboard');
      const env: Record<string, string> = {};
      words.slice(0, at).forEach((word, i, all) => {
        if (all[i - 1] !== '-e') return;
        const [name, ...value] = word.split('=');
        env[name as string] = value.join('=');
      });
      const parsed = await parseCli(words.slice(at + 1), env);
      expect(parsed.stderr, line).toBe('');
      expect(parsed.code, line).toBe(0);
    }
  });
});

/** Splits a shell line into words: blanks separate, quotes group (no expansion). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}
