import type { NatsConnection } from 'nats';

/**
 * The parts of nats.js's protocol handler (`nc.protocol`, nats 2.29) that
 * {@link failHandshakesOnClose} uses. They are not in nats.js's typings.
 */
interface HandshakeHost {
  /** Called when the socket closes: says `disconnect` and starts (or joins) the reconnect loop. */
  disconnected(err?: Error): Promise<void>;
  /** Set while a (re)connection waits for the server's first `PONG`: fails that attempt. */
  connectError?: ((err: Error) => void) | undefined;
  /** The socket of the current attempt or connection; `isClosed` once it has closed. */
  transport?: { readonly isClosed?: boolean };
}

const GUARDED = new WeakSet<object>();

function hostOf(nc: NatsConnection): HandshakeHost | undefined {
  const host = (nc as { protocol?: Partial<HandshakeHost> }).protocol;
  if (typeof host?.disconnected !== 'function' || !('connectError' in host)) return undefined;
  return host as HandshakeHost;
}

/**
 * Makes a reconnection attempt whose socket closes before the server has
 * answered its handshake fail at once, so that nats.js tries again after its
 * reconnect wait. nats.js (2.29) otherwise waits for that answer until its
 * connect timeout (`connectTimeoutMs`), although the socket is gone: a link
 * that drops again just after coming back (a flapping WAN link, a proxy that
 * accepts and resets) left the connection down for the whole timeout.
 * Returns whether `nc` is guarded; leaves a protocol handler that is not the
 * one this was written against as it is.
 */
export function failHandshakesOnClose(nc: NatsConnection): boolean {
  const host = hostOf(nc);
  if (!host) return false;
  if (GUARDED.has(host)) return true;
  GUARDED.add(host);
  const disconnected = host.disconnected;
  host.disconnected = function (this: HandshakeHost, err?: Error) {
    const failAttempt = this.connectError;
    // Only when the attempt's own socket closed: a socket of an earlier attempt
    // that connected after its attempt timed out may close later, mid-handshake of another.
    if (typeof failAttempt === 'function' && this.transport?.isClosed === true) {
      this.connectError = undefined;
      try {
        failAttempt(err ?? new Error('the connection closed before NATS answered its handshake'));
      } catch {
        // nats.js's own handling below runs whatever the attempt's end did
      }
    }
    return disconnected.call(this, err);
  };
  return true;
}

/** Whether {@link failHandshakesOnClose} guards `nc`. */
export function guardsHandshakes(nc: NatsConnection): boolean {
  const host = hostOf(nc);
  return host !== undefined && GUARDED.has(host);
}
