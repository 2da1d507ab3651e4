import type { NatsConnection, Status } from 'nats';

/** Something NATS refused this connection because its credential does not permit it. */
export interface PermissionRefusal {
  /** What was refused: a publish, or a subscription. */
  operation: 'publish' | 'subscription';
  /** The subject of the refused publish or subscription. */
  subject: string;
}

/**
 * Calls `onRefusal` for every permissions violation NATS reports on `nc`
 * (nats.js hears them as `-ERR` lines, and only says so on its status
 * stream: a refused publish is otherwise silent). Returns a function that
 * stops watching.
 */
export function watchPermissions(
  nc: NatsConnection,
  onRefusal: (refusal: PermissionRefusal) => void,
): () => void {
  if (nc.isClosed()) return () => {};
  // nats.js types status() as a plain AsyncIterable; it is a QueuedIterator with stop().
  const status = nc.status() as AsyncIterable<Status> & { stop(): void };
  void (async () => {
    for await (const s of status) {
      const context = s.permissionContext;
      if (s.type !== 'error' || context === undefined) continue;
      const operation = context.operation === 'publish' ? 'publish' : 'subscription';
      onRefusal({ operation, subject: context.subject });
    }
  })();
  return () => status.stop();
}
