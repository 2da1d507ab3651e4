/**
 * The NATS service discovery protocol (ADR-32, "micro"): a component answers
 * `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` (bare, `.<name>`, `.<name>.<id>`)
 * for the services it serves, so that `nats micro ls/info/stats` and the
 * nats.js services client list Switchboard services. A server answers for
 * itself; a bridge half for each remote service it advertises, saying where
 * it is hosted.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { discoverySubjects } from '../protocol/index.js';
import type { Logger } from '../util/index.js';
import type { EndpointStats } from './endpoint-stats.js';

/** One endpoint of a service: a method, and the subject that takes its calls. */
export interface MicroEndpoint {
  name: string;
  subject: string;
  stats: EndpointStats;
}

/** One service instance as the protocol describes it. */
export interface MicroService {
  name: string;
  id: string;
  version: string;
  description: string;
  metadata: Record<string, string>;
  /** When it started, for `$SRV.STATS`. */
  started: Date;
  endpoints: MicroEndpoint[];
}

/**
 * Answers the discovery requests for the services `list()` gives (read at
 * each request, so services may come and go).
 */
export class MicroResponder {
  readonly #nc: NatsConnection;
  readonly #subs: Subscription[];

  /**
   * @param only the one service `list()` ever gives, if so: then only the
   *   requests that may concern it are heard, as a server credential's NATS
   *   permissions allow (docs/security.md); otherwise every `$SRV` request
   */
  constructor(
    nc: NatsConnection,
    list: () => Iterable<MicroService>,
    logger: Logger,
    only?: string,
  ) {
    this.#nc = nc;
    const callback = (err: Error | null, msg: Msg) => {
      if (err || !msg.reply) return;
      try {
        const [, verb = '', name, id, ...rest] = msg.subject.split('.');
        if (rest.length > 0) return;
        for (const service of list()) {
          if (name !== undefined && service.name !== name) continue;
          if (id !== undefined && service.id !== id) continue;
          const answer = describe(verb, service);
          if (answer) msg.respond(JSON.stringify(answer));
        }
      } catch (err) {
        logger.warn(`cannot answer a discovery request: ${String(err)}`, { subject: msg.subject });
      }
    };
    this.#subs = discoverySubjects(only).map((subject) => nc.subscribe(subject, { callback }));
  }

  /** Stops answering. */
  close(): void {
    if (this.#nc.isClosed()) return;
    for (const sub of this.#subs) sub.unsubscribe();
  }
}

function describe(verb: string, service: MicroService): object | undefined {
  const identity = {
    name: service.name,
    id: service.id,
    version: service.version,
    metadata: service.metadata,
  };
  switch (verb) {
    case 'PING':
      return { type: 'io.nats.micro.v1.ping_response', ...identity };
    case 'INFO':
      return {
        type: 'io.nats.micro.v1.info_response',
        ...identity,
        description: service.description,
        endpoints: service.endpoints.map((e) => ({
          name: e.name,
          subject: e.subject,
          queue_group: '',
          metadata: null,
        })),
      };
    case 'STATS':
      return {
        type: 'io.nats.micro.v1.stats_response',
        ...identity,
        started: service.started.toISOString(),
        endpoints: service.endpoints.map(({ name, subject, stats }) => ({
          name,
          subject,
          queue_group: '',
          num_requests: stats.requests,
          num_errors: stats.errors,
          last_error: stats.lastError,
          data: stats.data(),
          processing_time: stats.processingNs,
          average_processing_time:
            stats.requests > 0 ? Math.round(stats.processingNs / stats.requests) : 0,
        })),
      };
    default:
      return undefined;
  }
}
