/**
 * What a failed NATS connection attempt means, in words a person can act on:
 * nats.js reports a CA against a server without TLS as `SERVER_OPT_NA: tls`,
 * and a refused connection as `CONNECTION_REFUSED`.
 */
import type { ConnectionOptions } from './connection.js';

interface ErrorFacts {
  code?: string;
  message?: string;
  hostname?: string;
}

function facts(err: unknown): ErrorFacts {
  return typeof err === 'object' && err !== null ? (err as ErrorFacts) : { message: String(err) };
}

/** Codes of Node's TLS layer when it does not trust the server's certificate. */
const UNTRUSTED =
  /^(?:UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_UNTRUSTED)$/;

/** Failures that waiting does not cure: the server is there and says no, or TLS cannot agree. */
const FINAL =
  /^(?:SERVER_OPT_NA|TLS|AUTHORIZATION_VIOLATION|AUTHENTICATION_EXPIRED|ERR_TLS_.*|ERR_SSL_.*|ERR_OSSL_.*|CERT_.*|UNABLE_TO_.*|SELF_SIGNED_.*|DEPTH_ZERO_.*)$/;

/** Whether another attempt may succeed (the server is not up yet, or not reachable yet). */
export function isRetryableConnectError(err: unknown): boolean {
  const { code } = facts(err);
  return code === undefined || !FINAL.test(code);
}

/** Why a connection attempt failed, e.g. `connection refused`, `the server does not offer TLS ...`. */
export function describeConnectError(err: unknown, options: ConnectionOptions): string {
  const { code, message = '', hostname } = facts(err);
  switch (code) {
    case 'CONNECTION_REFUSED':
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
      return `no such host${hostname ? ` '${hostname}'` : ''}`;
    case 'EAI_AGAIN':
      return `host name lookup failed for now${hostname ? ` ('${hostname}')` : ''}`;
    case 'TIMEOUT':
      return `no answer within ${options.connectTimeoutMs ?? 20_000} ms`;
    case 'SERVER_OPT_NA':
      return message === 'tls'
        ? 'TLS mismatch: the server does not offer TLS, but a TLS CA or certificate was given'
        : `the server does not support ${message}`;
    case 'AUTHORIZATION_VIOLATION':
      return 'the server refused the credentials (authorization violation)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `TLS: the server's certificate is not for this host (${message})`;
  }
  if (code !== undefined && UNTRUSTED.test(code)) {
    return options.tls?.caFile !== undefined
      ? `TLS: the server's certificate is not signed by the given CA (${message})`
      : `TLS: the server requires TLS and its certificate is not trusted (${message}); give the CA that signed it`;
  }
  if (message === '' || message === code) return code ?? 'unknown error';
  return message;
}
