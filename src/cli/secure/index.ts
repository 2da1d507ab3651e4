/** `switchboard secure init`: a site's NATS users, permissions, TLS material and env files. */
export { type BridgeSide, envFileName } from './env-files.js';
export { AUTH_FILE } from './nats-config.js';
export { SERVER_CONFIG_FILE, type SecureInitReport, secureInit } from './secure-init.js';
export {
  certificateHosts,
  checkSecureInitOptions,
  type Identity,
  planIdentities,
  type SecureInitOptions,
} from './site-plan.js';
export { TLS_FILES } from './test-tls.js';
