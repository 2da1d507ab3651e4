export * from './call-context-headers.js';
export { Codec } from './codec.js';
export * from './envelopes.js';
export * from './errors.js';
export * from './headers.js';
export * from './permissions.js';
export * from './semver.js';
export * from './subjects.js';
export * from './view-size.js';
