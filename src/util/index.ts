export { Closeable } from './closeable.js';
export { DeadlineTimer } from './deadline-timer.js';
export { holderTag } from './holder-tag.js';
export { newId, randomString } from './ids.js';
export { afterArrivals } from './late-timers.js';
export { checkLimits } from './limits.js';
export {
  jsonLogger,
  type Logger,
  type LogLevel,
  lineLogger,
  silentLogger,
  withFields,
} from './logger.js';
export { getOrCreate } from './memo.js';
export { closest, editDistance } from './suggest.js';
export { type ThrottleOptions, throttled } from './throttled-logger.js';
export { seconds, WAITING_NOTICE_MS, type WaitingNotice, waitingNotice } from './waiting.js';
