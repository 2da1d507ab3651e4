/** `--metrics-port` and `--metrics-host`: the long-running commands' /metrics and /healthz. */
import type { Argv } from 'yargs';
import {
  type HealthSource,
  Metrics,
  type ObservabilityEndpoint,
  serveObservability,
} from '../index.js';

const GROUP = 'Observability:';

/** The arguments {@link withObservabilityOptions} adds. */
export interface ObservabilityArgs {
  metricsPort?: number | undefined;
  metricsHost: string;
}

/** Adds `--metrics-port` (env SWITCHBOARD_METRICS_PORT) and `--metrics-host`. */
export function withObservabilityOptions<T>(y: Argv<T>): Argv<T & ObservabilityArgs> {
  return y.options({
    'metrics-port': {
      type: 'number',
      describe: 'Serve /metrics (Prometheus) and /healthz on this port [default: none]',
      group: GROUP,
    },
    'metrics-host': {
      type: 'string',
      default: '127.0.0.1',
      describe: 'Address the metrics port listens on (0.0.0.0 in a container)',
      group: GROUP,
    },
  }) as unknown as Argv<T & ObservabilityArgs>;
}

/** The metrics to give the components when `--metrics-port` is set. */
export function metricsFor(args: ObservabilityArgs): Metrics | undefined {
  return args.metricsPort === undefined ? undefined : new Metrics();
}

/** Serves /metrics and /healthz of `sources` when `--metrics-port` is set. */
export async function observe(
  args: ObservabilityArgs,
  metrics: Metrics | undefined,
  sources: () => readonly HealthSource[],
): Promise<ObservabilityEndpoint | undefined> {
  if (args.metricsPort === undefined || !metrics) return undefined;
  return serveObservability({
    port: args.metricsPort,
    host: args.metricsHost,
    metrics,
    health: sources,
  });
}
