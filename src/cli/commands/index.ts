export { brokerCommand } from './broker.js';
export { callCommand } from './call.js';
export { demoCommand } from './demo.js';
export { lsCommand } from './ls.js';
export { serveExampleCommand } from './serve-example.js';
