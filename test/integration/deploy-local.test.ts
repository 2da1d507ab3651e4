/**
 * deploy/docker-compose.yml without Docker, open and secured (with
 * docker-compose.secure.yml): one real nats-server per site on loopback (with
 * the config `secure init` wrote for the secured mesh), and each switchboard
 * service of the file run as a local process with its own command and
 * environment (its env files too), host names mapped to those servers and
 * mounted secrets to their files. A client at site a then calls the
 * calculator at site c, two bridges away.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SERVER_CONFIG_FILE } from '../../src/cli/secure/index.js';
import {
  type Calculator,
  Client,
  type ConnectionOptions,
  SwitchboardError,
} from '../../src/internal.js';
import { type NatsServerHandle, startNatsServer } from '../../src/testing/index.js';
import { portToListenOn } from './cli-process.js';
import {
  type ComposeModel,
  type ComposeService,
  calculatorRoutes,
  loadCompose,
  MESH_COMPOSE,
  MESH_SECURE,
  REPO,
  runsNats,
  runsSwitchboard,
} from './deploy-compose-file.js';
import { type DeploySecrets, makeDeploySecrets } from './deploy-secrets.js';
import { eventually } from './helpers.js';
import { readEnvFile } from './secured-sites.js';

const MAIN = join(REPO, 'dist/cli/main.js');
/** The test runner's environment without its SWITCHBOARD_* settings. */
const BASE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHBOARD_')),
);

/** A compose service running as a local process. */
interface Container {
  service: ComposeService;
  child: ChildProcess;
  stdout: string;
  /** stdout and stderr. */
  output: string;
  exited: Promise<number | null>;
}

/** One way of running the mesh: its files, their variables, and how its parts log in. */
interface Variant {
  title: string;
  files: string[];
  /** Made before the mesh starts: the variables of `docker compose` and what to remove after. */
  prepare(): Promise<{ vars: Record<string, string>; secrets?: DeploySecrets }>;
  /** Extra nats-server arguments for the NATS service of `site`. */
  natsArgs(site: string, secrets: DeploySecrets | undefined): string[];
  /** How a client at `site` (on this host) logs in. */
  client(site: string, secrets: DeploySecrets | undefined): Promise<Partial<ConnectionOptions>>;
}

const VARIANTS: Variant[] = [
  {
    title: 'deploy',
    files: [MESH_COMPOSE],
    prepare: async () => ({ vars: {} }),
    natsArgs: () => [],
    client: async () => ({}),
  },
  {
    title: 'deploy secured',
    files: [MESH_COMPOSE, MESH_SECURE],
    prepare: async () => {
      const secrets = await makeDeploySecrets();
      return { vars: { SWITCHBOARD_SECRETS: secrets.dir }, secrets };
    },
    natsArgs: (site, secrets) => ['-c', join(secrets?.site(site) ?? '', SERVER_CONFIG_FILE)],
    client: async (site, secrets) => {
      const env = await readEnvFile(join(secrets?.site(site) ?? '', 'client.env'));
      return {
        user: env.SWITCHBOARD_USER,
        pass: env.SWITCHBOARD_PASS,
        inboxPrefix: env.SWITCHBOARD_INBOX_PREFIX,
        tls: { caFile: env.SWITCHBOARD_TLS_CA },
      };
    },
  },
];

describe.each(VARIANTS)('$title - the compose topology as local processes', (variant) => {
  const { title } = variant;
  let model: ComposeModel;
  let secrets: DeploySecrets | undefined;
  const natsServers = new Map<string, NatsServerHandle>();
  const containers: Container[] = [];
  /**
   * Each container has its own network namespace, so they all serve metrics on
   * one port; here, as processes on one host, each gets a port of its own.
   */
  const metricsPorts = new Map<string, number>();

  /** `nats://nats-a:4222` (or `tls://`) → the loopback URL of the nats-server standing in for `nats-a`. */
  function mapHosts(text: string): string {
    return text.replace(
      /\b(nats|tls):\/\/([A-Za-z0-9._-]+):4222\b/g,
      (url, scheme: string, host: string) => {
        const server = natsServers.get(host);
        if (!server)
          throw new Error(`${url} names no NATS service of ${variant.files.join(' + ')}`);
        return `${scheme}://127.0.0.1:${server.port}`;
      },
    );
  }

  /** A variable's value on this host: host names mapped, and mounted secrets at their files. */
  function onThisHost(service: ComposeService, value: string): string {
    return service.secretMounts[value] ?? mapHosts(value);
  }

  /** Runs `argv` the way the image's entrypoint would, in the service's environment. */
  function start(service: ComposeService, argv: readonly string[]): Container {
    const env = Object.fromEntries(
      Object.entries(service.environment).map(([name, value]) => [
        name,
        onThisHost(service, value),
      ]),
    );
    if (env.SWITCHBOARD_METRICS_PORT !== undefined) {
      const port = metricsPorts.get(service.name);
      // Only the service's own process serves metrics (not `ls` run beside it).
      if (port !== undefined && argv[0] === argvOf(service)[0]) {
        env.SWITCHBOARD_METRICS_PORT = String(port);
      } else {
        delete env.SWITCHBOARD_METRICS_PORT;
      }
    }
    // The dashboard's page too: on a free port, not the one the compose file publishes.
    if (env.SWITCHBOARD_DASHBOARD_PORT !== undefined) env.SWITCHBOARD_DASHBOARD_PORT = '0';
    const child = spawn(process.execPath, [MAIN, ...argv.map(mapHosts)], {
      cwd: REPO,
      env: { ...BASE_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const container: Container = {
      service,
      child,
      stdout: '',
      output: '',
      exited: new Promise((resolve) => child.once('close', (code) => resolve(code))),
    };
    const collect = (chunk: string) => {
      container.output += chunk;
    };
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      container.stdout += chunk;
      collect(chunk);
    });
    child.stderr?.setEncoding('utf8').on('data', collect);
    return container;
  }

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
    const prepared = await variant.prepare();
    secrets = prepared.secrets;
    model = loadCompose(variant.files, prepared.vars);
    const services = [...model.services.values()];
    await Promise.all(
      services.filter(runsNats).map(async (service) => {
        const site = service.name.replace(/^nats-/, '');
        natsServers.set(
          service.name,
          await startNatsServer({
            backend: 'binary',
            name: service.name,
            args: variant.natsArgs(site, secrets),
          }),
        );
      }),
    );
    for (const service of services.filter(runsSwitchboard)) {
      metricsPorts.set(service.name, await portToListenOn());
      containers.push(start(service, argvOf(service)));
    }
  });

  afterAll(async () => {
    // As `docker compose down`: SIGTERM to everything, then the NATS servers.
    for (const { child } of containers) {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    }
    const stopped = await Promise.race([
      Promise.all(containers.map((c) => c.exited)),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 15_000).unref()),
    ]);
    for (const { child } of containers) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGKILL');
      }
    }
    await Promise.all([...natsServers.values()].map((server) => server.close()));
    await secrets?.remove();
    // Every service stopped cleanly on SIGTERM, as `docker stop` asks it to.
    expect(stopped, 'a service did not stop within 15 s of SIGTERM').toBeDefined();
    for (const c of containers) {
      expect(await c.exited, `${c.service.name} exit code${c.output}`).toBe(0);
    }
  }, 30_000);

  // The mesh may still be starting (eight processes): the wait for it, not the test, gives up.
  test(`${title} - a client at site a calls the calculator at site c through both bridges`, {
    timeout: 60_000,
  }, async () => {
    const a = natsServers.get('nats-a') as NatsServerHandle;
    const login = await variant.client('a', secrets);
    await using client = await Client.connect({ nats: a.url, timeoutMs: 2000, ...login });
    const calc = client.proxy<Calculator>('calculator@c');
    let sum: number | undefined;
    await eventually(
      async () => {
        sum = await calc.add(1, 2).catch((err: unknown) => {
          if (err instanceof SwitchboardError) return undefined;
          throw err;
        });
        return sum !== undefined;
      },
      40_000,
      `calculator at site c reachable from site a${containers.map((c) => `\n[${c.service.name}]\n${c.output}`).join('')}`,
    );
    expect(sum).toBe(3);

    const atC = (await client.lookup('calculator')).filter((i) => i.site === 'c');
    expect(atC).toEqual([
      expect.objectContaining({ site: 'c', version: '2.0.0', path: ['b', 'c'] }),
    ]);
    const err = await calc.divide(1, 0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'APPLICATION', appCode: 'DIVIDE_BY_ZERO', site: 'c' });
  });

  test(`${title} - ls --mesh at site a lists the calculators of all three sites with their paths`, async () => {
    const brokerA = model.services.get('broker-a') as ComposeService;
    // As `docker compose exec broker-a switchboard ls --mesh --json`.
    let ls = start(brokerA, ['ls', '--mesh', '--json']);
    await eventually(
      async () => {
        if ((await ls.exited) === 0 && calculatorRoutes(ls.stdout).length === 3) return true;
        ls = start(brokerA, ['ls', '--mesh', '--json']);
        return false;
      },
      10_000,
      'three calculators listed from site a',
    );
    expect(calculatorRoutes(ls.stdout)).toEqual(['a:', 'b:b', 'c:b>c']);
  });

  test(`${title} - every switchboard service has a healthcheck, and it passes once the mesh is up`, {
    timeout: 60_000,
  }, async () => {
    const checked: string[] = [];
    for (const service of model.services.values()) {
      if (!runsSwitchboard(service)) continue;
      const check = (service.healthcheck?.test as string[] | undefined) ?? [];
      // ["CMD", "node", "-e", script]: the script asks the container's own /healthz.
      expect(check.slice(0, 3), `${service.name} healthcheck`).toEqual(['CMD', 'node', '-e']);
      const port = String(metricsPorts.get(service.name));
      const script = String(check[3]).replace(/\b9464\b/, port);
      await eventually(
        () =>
          new Promise<boolean>((resolve) => {
            const probe = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
            probe.once('close', (code) => resolve(code === 0));
          }),
        20_000,
        `${service.name} healthy (port ${port})${containers.find((c) => c.service.name === service.name)?.output}`,
      );
      checked.push(service.name);
    }
    expect(checked.sort()).toEqual([
      'bridge-ab',
      'bridge-bc',
      'broker-a',
      'broker-b',
      'broker-c',
      'calculator-a',
      'calculator-b',
      'calculator-c',
      'dashboard',
    ]);
  });

  if (secured(variant)) {
    test(`${title} - every part logs in as its own role: NATS refuses none of them anything`, async () => {
      // A refusal is said in a warning: "NATS refused ...", "registration refused ...".
      for (const c of containers) expect(c.output, c.service.name).not.toMatch(/refused/);
    });
  }
});

function secured(variant: Variant): boolean {
  return variant.files.includes(MESH_SECURE);
}

function argvOf(service: ComposeService): string[] {
  return (service.command as unknown[]).map(String);
}
