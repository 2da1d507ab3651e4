/** Moleculer brokers as the baseline peer: NATS transporter, everything optional off, no timeout. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Moleculer settings used when the run does not measure the variants: its defaults. */
export const DEFAULT_MOLECULER = { serializer: 'JSON', disableBalancer: false };

/** The serializers users pick (Moleculer's names). */
export const MOLECULER_SERIALIZERS = ['JSON', 'Notepack', 'CBOR'];

/** The ServiceBroker options of a bench node. */
export function brokerOptions(nodeID, natsUrl, variant) {
  return {
    nodeID,
    namespace: 'bench',
    transporter: { type: 'NATS', options: { servers: [natsUrl] } },
    serializer: variant.serializer,
    disableBalancer: variant.disableBalancer,
    logger: false,
    metrics: false,
    tracing: false,
    // Moleculer's default, no request timeout: its fastest set-up (a timeout
    // costs it a timer per call; 10-15 % of its throughput here).
    requestTimeout: 0,
    registry: { preferLocal: true },
  };
}

export function ServiceBroker() {
  return require('moleculer').ServiceBroker;
}
