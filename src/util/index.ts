export { Closeable } from './closeable.js';
export { newId } from './ids.js';
export { type Logger, type LogLevel, lineLogger, silentLogger } from './logger.js';
export { getOrCreate } from './memo.js';
export { type ThrottleOptions, throttled } from './throttled-logger.js';
