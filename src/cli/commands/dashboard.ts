import type { Argv } from 'yargs';
import { Dashboard, type DashboardOptions, DEFAULT_DASHBOARD_PORT } from '../../index.js';
import { runUntilSignal } from '../agent.js';
import { defineCommand } from '../command.js';
import { toConnectionOptions, withConnectionOptions } from '../connection-options.js';
import { cliLogger, statusLogger } from '../logging.js';
import { metricsFor, withObservabilityOptions } from '../observability.js';

const GROUP = 'Dashboard:';

/**
 * `switchboard dashboard`: serves a live picture of the mesh as one site
 * sees it, until SIGINT or SIGTERM.
 */
export const dashboardCommand = defineCommand({
  command: 'dashboard',
  describe: 'Serve a live web page of the mesh as this site sees it, until SIGINT or SIGTERM',
  builder: (y: Argv) =>
    withConnectionOptions(
      withObservabilityOptions(y).options({
        // `dashboard-port` first, so that SWITCHBOARD_DASHBOARD_PORT sets it.
        'dashboard-port': {
          alias: 'port',
          type: 'number',
          default: DEFAULT_DASHBOARD_PORT,
          describe: 'Port of the page (0: any free port)',
          group: GROUP,
        },
        'dashboard-host': {
          alias: 'host',
          type: 'string',
          default: '127.0.0.1',
          describe: 'Address the page listens on (0.0.0.0 in a container)',
          group: GROUP,
        },
        'allow-host': {
          type: 'string',
          array: true,
          describe:
            'Host name the page may be opened by, besides addresses and localhost (repeatable)',
          group: GROUP,
        },
      }),
      'warn',
    )
      .example('$0 dashboard --nats nats://127.0.0.1:4222', 'then open http://127.0.0.1:9470/')
      .example('$0 dashboard --port 8080 --host 0.0.0.0', 'in a container'),
  async run(args, io) {
    const logger = cliLogger('dashboard', args, io);
    const status = statusLogger('dashboard', args, io);
    const options: DashboardOptions = {
      ...toConnectionOptions(args, logger),
      port: args.dashboardPort,
      host: args.dashboardHost,
      allowedHosts: args.allowHost,
    };
    return runUntilSignal(io, {
      start: () => Dashboard.start(options),
      where: args.nats,
      status,
      started: (dashboard) => {
        status.info(`dashboard of the mesh seen from NATS at ${args.nats}: ${dashboard.url}`);
        return undefined;
      },
      stopping: (_dashboard, signal) => `${signal}: stopping the dashboard`,
      // /healthz on the metrics port too, as every long-running command has it.
      observe: { args, metrics: metricsFor(args) },
    });
  },
});
