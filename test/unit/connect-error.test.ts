/**
 * Every way a failed NATS connection attempt is put in words, and which
 * failures waiting may cure: exact texts, and the edges of the code patterns.
 */
import { describe, expect, test } from 'vitest';
import {
  describeConnectError,
  isRetryableConnectError,
} from '../../src/transport/connect-error.js';

const error = (code: string | undefined, message = code ?? '', extra: object = {}) =>
  Object.assign(new Error(message), code === undefined ? {} : { code }, extra);

describe('connect error', () => {
  test('connect error - each known code has its own words', () => {
    const cases: Array<[Error, string]> = [
      [error('ECONNREFUSED', 'connect ECONNREFUSED'), 'connection refused'],
      [error('ENOTFOUND', 'getaddrinfo'), 'no such host'],
      [error('EAI_AGAIN', 'x', { hostname: 'h' }), "host name lookup failed for now ('h')"],
      [error('EAI_AGAIN', 'x'), 'host name lookup failed for now'],
      [error('TIMEOUT'), 'no answer within 20000 ms'],
      [error('SERVER_OPT_NA', 'headers'), 'the server does not support headers'],
      [
        error('ERR_TLS_CERT_ALTNAME_INVALID', "Host: x. is not in the cert's altnames"),
        "TLS: the server's certificate is not for this host (Host: x. is not in the cert's altnames)",
      ],
    ];
    for (const [err, words] of cases) expect(describeConnectError(err, {}), words).toBe(words);
  });

  test('connect error - every code of an untrusted certificate says so, naming the CA when one was given', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'CERT_UNTRUSTED',
    ]) {
      expect(describeConnectError(error(code, 'm'), {}), code).toBe(
        'TLS: the server requires TLS and its certificate is not trusted (m); give the CA that signed it',
      );
      expect(describeConnectError(error(code, 'm'), { tls: { caFile: 'ca.pem' } }), code).toBe(
        "TLS: the server's certificate is not signed by the given CA (m)",
      );
    }
    for (const code of ['XCERT_UNTRUSTED', 'CERT_UNTRUSTEDX', 'UNABLE_TO_GET_ISSUER_CERT_X']) {
      expect(describeConnectError(error(code, 'plain'), {}), code).toBe('plain');
    }
  });

  test('connect error - otherwise the message, or the code when the message says nothing more', () => {
    expect(describeConnectError(error('EWHATEVER', 'something odd'), {})).toBe('something odd');
    expect(describeConnectError(error('EWHATEVER', 'EWHATEVER'), {})).toBe('EWHATEVER');
    expect(describeConnectError(error('EWHATEVER', ''), {})).toBe('EWHATEVER');
    expect(describeConnectError(error(undefined, ''), {})).toBe('unknown error');
    expect(describeConnectError('bare words', {})).toBe('bare words');
    expect(describeConnectError(null, {})).toBe('null');
  });

  test('connect error - failures that waiting cannot cure, matched as whole codes', () => {
    for (const code of [
      'SERVER_OPT_NA',
      'TLS',
      'AUTHORIZATION_VIOLATION',
      'AUTHENTICATION_EXPIRED',
      'ERR_TLS_X',
      'ERR_SSL_X',
      'ERR_OSSL_X',
      'CERT_HAS_EXPIRED',
      'UNABLE_TO_X',
      'SELF_SIGNED_X',
      'DEPTH_ZERO_X',
    ]) {
      expect(isRetryableConnectError(error(code)), code).toBe(false);
    }
    for (const code of [
      'XTLS',
      'TLSX',
      'XSERVER_OPT_NA',
      'AUTHORIZATION_VIOLATIONS',
      'XERR_TLS_A',
    ]) {
      expect(isRetryableConnectError(error(code)), code).toBe(true);
    }
    expect(isRetryableConnectError(error(undefined, 'no code'))).toBe(true);
    expect(isRetryableConnectError('bare')).toBe(true);
  });
});
