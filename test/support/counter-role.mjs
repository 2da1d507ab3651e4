/**
 * The journaling counter of the fault suite (role `counter` of component.mjs):
 * service `counter`, whose methods append the call's token to a journal file
 * the moment the handler starts, with a plain write(2), so the journal
 * survives a SIGKILL; then they work `workMs` (stopping early when the call
 * is cancelled). `add(token)` increments (not idempotent); `get(token)` reads
 * (idempotent). The suite compares the journal with what callers were told.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** Resolves after `ms`, or rejects with the reason when `signal` aborts first. */
function work(ms, signal) {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * @param sb the library (dist/internal.js)
 * @param config `{ journal: path, workMs?, options? }`
 * @param connection the component's connection options
 */
export async function counterRole(sb, config, connection) {
  const fd = openSync(config.journal, 'a');
  const workMs = config.workMs ?? 0;
  let total = 0;
  const ran = (token) => writeSync(fd, `${token}\n`);
  const service = {
    name: 'counter',
    version: '1.0.0',
    methods: {
      async add(token, ctx) {
        ran(token);
        await work(workMs, ctx.signal);
        total += 1;
        return total;
      },
      async get(token, ctx) {
        ran(token);
        await work(workMs, ctx.signal);
        return total;
      },
    },
  };
  const server = await sb.serve(service, { ...connection, ...config.options });
  return {
    info: { instanceId: server.instanceId },
    handlers: {
      close: async () => {
        await server.close();
        closeSync(fd);
      },
    },
  };
}
