export { Bridge, type BridgeOptions } from './bridge.js';
export { BRIDGE_SERVICE_NAME, BridgeHalf } from './bridge-half.js';
export { checkGlobs, GLOB_SYNTAX, globFilter, globToRegExp, isValidGlob } from './policy.js';
export { Relay, type RelayDirection } from './relay.js';
export { type RouteAdvert, type RouteChanges, type RouteRules, RouteTable } from './route-table.js';
export {
  type HalfTimings,
  MAX_REPLAYED_EVENTS,
  type SiteView,
  SiteWatcher,
  type WatchedSite,
  WITHDRAW_HOLD_MS,
} from './site-watcher.js';
