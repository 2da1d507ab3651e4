export { bridgeCommand } from './bridge.js';
export { brokerCommand } from './broker.js';
export { callCommand } from './call.js';
export { dashboardCommand } from './dashboard.js';
export { demoCommand } from './demo.js';
export { lsCommand } from './ls.js';
export { secureCommand, secureInitCommand } from './secure.js';
export { serveExampleCommand } from './serve-example.js';
export { upCommand } from './up.js';
