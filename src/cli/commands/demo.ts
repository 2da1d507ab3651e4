import type { Argv } from 'yargs';
import { defineCommand } from '../command.js';
import { NATS_BACKENDS, runDemo } from '../demo/index.js';
import { withLogOptions } from '../logging.js';

/** `switchboard demo`: a guided tour of a mesh of three sites, each on a nats-server of its own. */
export const demoCommand = defineCommand({
  command: 'demo',
  describe:
    'Walk through a mesh of three sites on this machine: nats-servers, brokers, bridges, servers, a client',
  builder: (y: Argv) =>
    withLogOptions(y, 'warn').options({
      keep: {
        type: 'boolean',
        default: false,
        describe: 'Leave the mesh running after the walkthrough, until Ctrl-C',
      },
      'nats-backend': {
        type: 'string',
        choices: NATS_BACKENDS,
        default: 'binary' as const,
        describe: 'Where the nats-servers run: the local binary, Docker, or Docker when it answers',
      },
    }),
  run: (args, io) => runDemo(io, args),
});
