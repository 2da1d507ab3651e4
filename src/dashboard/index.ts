/**
 * The dashboard: a live picture of the mesh as one site sees it, served as
 * one web page. The server side observes (observer, topology, traffic); the
 * page (./page, a browser bundle) draws what it is sent.
 */
export { Dashboard, type DashboardOptions, DEFAULT_DASHBOARD_PORT } from './dashboard.js';
export {
  DashboardServer,
  type DashboardServerOptions,
  type SnapshotSource,
} from './http-server.js';
export { MeshMemory } from './mesh-memory.js';
export type * from './snapshot.js';
export { buildSnapshot } from './snapshot-builder.js';
export { checkStatsReply, type StatsReply } from './stats-reply.js';
export { linkKey, type Topology, topologyOf } from './topology.js';
export { TrafficMeter } from './traffic.js';
