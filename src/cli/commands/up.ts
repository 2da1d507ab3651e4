import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import {
  Bridge,
  Broker,
  type ConnectionOptions,
  type HealthSource,
  type Logger,
  type Metrics,
} from '../../index.js';
import { type ConnectionField, checkConnectionOptions } from '../../transport/index.js';
import { withFields } from '../../util/index.js';
import { defineCommand } from '../command.js';
import { connectFailure, waitOptions, withWaitForNats } from '../connection-options.js';
import { asSwitchboardError, describeError, table } from '../format.js';
import { inFlightLimits } from '../in-flight-options.js';
import { type CliIo, ExitCode } from '../io.js';
import { cliLogger, type LogArgs, statusLogger, withLogOptions } from '../logging.js';
import {
  assignmentFor,
  hostsOf,
  loadMeshConfig,
  type MeshAssignment,
  type MeshBridge,
  type MeshBroker,
  type MeshConfig,
  MeshConfigError,
  siteConnectionOptions,
} from '../mesh-config.js';
import {
  metricsFor,
  type ObservabilityArgs,
  observe,
  withObservabilityOptions,
} from '../observability.js';
import { watchSignals } from '../signals.js';

/** `switchboard up CONFIG`: runs the brokers and bridges a mesh config assigns to this host. */
export const upCommand = defineCommand({
  command: 'up <config>',
  describe:
    'Run the brokers and bridges that a mesh config file assigns to this host, until SIGINT or SIGTERM',
  builder: (y: Argv) =>
    withObservabilityOptions(
      withWaitForNats(
        withLogOptions(
          y
            .positional('config', {
              type: 'string',
              demandOption: true,
              normalize: true,
              describe:
                'Mesh config file (YAML or JSON): sites, brokers, bridges; see docs/deploy.md',
            })
            .options({
              host: {
                type: 'string',
                describe: 'Run what the config assigns to this host name [default: os.hostname()]',
              },
              'dry-run': {
                type: 'boolean',
                default: false,
                describe: 'Check the config and print what would run on this host, then exit',
              },
            }),
          'warn',
        ),
      ),
    )
      .example('$0 up mesh.yaml', 'run what mesh.yaml assigns to this host')
      .example('$0 up mesh.yaml --host host-1 --dry-run', 'check it, show what host-1 runs'),
  async run(args, io) {
    const host = args.host ?? hostname();
    let config: MeshConfig;
    let assigned: MeshAssignment;
    try {
      config = loadMeshConfig(args.config);
      assigned = assignmentFor(config, host);
      if (assigned.brokers.length === 0 && assigned.bridges.length === 0) {
        const hosts = hostsOf(config);
        const named = hosts.length > 0 ? `hosts named in it: ${hosts.join(', ')}` : 'no hosts';
        throw new MeshConfigError(
          config.file,
          '',
          `expected a broker or a bridge for host '${host}' (${named}; choose with --host)`,
        );
      }
      // Secret files are read and files checked now, so that a missing one stops
      // everything before anything starts.
      for (const site of sitesUsed(assigned)) checkSite(config, site);
    } catch (err) {
      if (!(err instanceof MeshConfigError)) throw err;
      io.stderr(`switchboard up: ${err.message}\n`);
      return ExitCode.USAGE;
    }
    if (args.dryRun) {
      io.stdout(`${planLines(config.file, host, assigned).join('\n')}\n`);
      return ExitCode.OK;
    }
    return new Up(config, io, args, waitOptions(args), args).run(assigned);
  },
});

/** Where each connection option of a site is in a mesh config, under `sites.NAME`. */
const CONFIG_KEYS: Record<ConnectionField, string> = {
  nats: 'nats',
  user: 'user',
  pass: 'pass',
  token: 'token',
  credsFile: 'creds',
  'tls.caFile': 'tls.ca',
  'tls.certFile': 'tls.cert',
  'tls.keyFile': 'tls.key',
  inboxPrefix: 'inboxPrefix',
  connectTimeoutMs: 'connectTimeoutMs',
  waitTimeoutMs: 'waitTimeoutMs',
  reconnectGraceMs: 'reconnectGraceMs',
};

/** Checks a site's connection options as the library will, naming the config's fields. */
function checkSite(config: MeshConfig, site: string): void {
  const options = siteConnectionOptions(config, site);
  try {
    checkConnectionOptions(options, (field) => `sites.${site}.${CONFIG_KEYS[field]}`);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    throw new MeshConfigError(config.file, '', err.message);
  }
}

/** The sites the assigned brokers and bridges connect to. */
function sitesUsed(assigned: MeshAssignment): Set<string> {
  return new Set([
    ...assigned.brokers.map((b) => b.site),
    ...assigned.bridges.flatMap((b) => b.between),
  ]);
}

function bridgeName(bridge: MeshBridge): string {
  return `${bridge.between[0]} <-> ${bridge.between[1]}`;
}

/** What `--dry-run` prints: one row per broker or bridge. */
function planLines(file: string, host: string, assigned: MeshAssignment): string[] {
  const rows = [['KIND', 'SITES', 'ENTRY', 'POLICY']];
  for (const broker of assigned.brokers) rows.push(['broker', broker.site, broker.field, '-']);
  for (const bridge of assigned.bridges) {
    const policy = [
      bridge.export ? `export ${bridge.export.join(',')}` : '',
      bridge.import ? `import ${bridge.import.join(',')}` : '',
    ].filter((part) => part !== '');
    rows.push(['bridge', bridgeName(bridge), bridge.field, policy.join('; ') || '-']);
  }
  return [`${file}: host ${host} runs`, ...table(rows).map((line) => `  ${line}`)];
}

/** The brokers and bridges of one host, started in that order and closed in reverse. */
class Up {
  readonly #running: { what: string; close(): Promise<void> }[] = [];
  readonly #health: HealthSource[] = [];
  readonly #status: Logger;
  readonly #metrics: Metrics | undefined;

  constructor(
    readonly config: MeshConfig,
    readonly io: CliIo,
    readonly logging: LogArgs,
    readonly wait: Pick<ConnectionOptions, 'waitForNats' | 'waitTimeoutMs'>,
    readonly observability: ObservabilityArgs,
  ) {
    this.#status = statusLogger('up', logging, io);
    this.#metrics = metricsFor(observability);
  }

  async run(assigned: MeshAssignment): Promise<number> {
    const shutdown = watchSignals(this.io);
    try {
      try {
        for (const broker of assigned.brokers) await this.#startBroker(broker);
        for (const bridge of assigned.bridges) await this.#startBridge(bridge);
        const endpoint = await observe(this.observability, this.#metrics, () => this.#health);
        if (endpoint) this.#running.push({ what: 'metrics', close: () => endpoint.close() });
      } catch (err) {
        this.#status.error(describeError(asSwitchboardError(err)));
        await this.#closeAll();
        return ExitCode.FAILURE;
      }
      shutdown.started();
      const n = this.#running.length;
      this.#status.info(`up: running ${n} component${n === 1 ? '' : 's'} from ${this.config.file}`);
      const signal = await shutdown.received;
      const order = this.#running.map((r) => r.what).reverse();
      this.#status.info(`${signal}: stopping ${order.join(', ')}`);
      await this.#closeAll();
      return ExitCode.OK;
    } finally {
      shutdown.release();
    }
  }

  async #startBroker(entry: MeshBroker): Promise<void> {
    const connection = this.#connection(entry.site, `broker ${entry.site}`);
    let broker: Broker;
    try {
      broker = await Broker.start({
        ...connection,
        site: entry.site,
        id: entry.id,
        policy: entry.policy,
        leaseFactor: entry.leaseFactor,
        probeAfterMs: entry.probeAfterMs,
        limits: { maxInstances: entry.maxInstances, maxBridgeRoutes: entry.maxBridgeRoutes },
        inFlight: inFlightLimits(entry),
        metrics: this.#metrics,
      });
    } catch (err) {
      throw connectFailure(String(connection.nats), err);
    }
    this.#health.push(broker);
    this.#running.push({ what: `broker ${entry.site}`, close: () => broker.close() });
    this.#status.info(`broker ${broker.id} serving site ${broker.site} on ${connection.nats}`);
  }

  async #startBridge(entry: MeshBridge): Promise<void> {
    const name = bridgeName(entry);
    const [localSite, remoteSite] = entry.between;
    const local = this.#connection(localSite, `bridge ${name}`);
    const remote = this.#connection(remoteSite, `bridge ${name}`);
    let bridge: Bridge;
    try {
      bridge = await Bridge.start({
        local,
        remote,
        export: entry.export,
        import: entry.import,
        maxHops: entry.maxHops,
        inFlight: inFlightLimits(entry),
        logger: local.logger,
        metrics: this.#metrics,
      });
    } catch (err) {
      throw connectFailure(`${local.nats} or ${remote.nats}`, err);
    }
    this.#health.push(bridge);
    this.#running.push({ what: `bridge ${name}`, close: () => bridge.close() });
    this.#status.info(`bridge ${name} connected to both sites; waiting for their brokers`);
    void bridge.ready().then((linked) => {
      const { local: a, remote: b } = bridge.sites;
      if (!linked) {
        // Not closed by us: both URLs reach one site, which the bridge refuses to link.
        if (!bridge.closing) {
          this.#status.error(
            `bridge ${name}: both sides reach site ${a}; ${entry.field}.between needs the NATS URLs of two sites`,
          );
        }
        return;
      }
      // The config names the sites; the brokers behind the URLs say which they serve.
      const mismatch = a !== localSite || b !== remoteSite;
      this.#status.info(
        mismatch
          ? `bridge ${name} linked sites ${a} and ${b}: ${entry.field}.between says ${localSite} and ${remoteSite}; check the sites' nats URLs`
          : `bridge ${name} linked`,
      );
    });
  }

  #connection(site: string, component: string): ConnectionOptions {
    const options = siteConnectionOptions(this.config, site);
    options.logger = withFields(cliLogger(component, this.logging, this.io), { site });
    return { ...options, ...this.wait };
  }

  async #closeAll(): Promise<void> {
    for (const { what, close } of this.#running.splice(0).reverse()) {
      await close().catch((err: unknown) => this.#status.error(`closing ${what} failed: ${err}`));
    }
  }
}
