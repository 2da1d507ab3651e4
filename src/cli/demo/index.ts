/** `switchboard demo`: a mesh of three sites on this machine, and a narrated tour of it. */
export { type DemoOptions, runDemo } from './demo.js';
export { type DemoNatsBackend, NATS_BACKENDS } from './mesh.js';
