/**
 * The journaling counter of the fault suite (role `counter` of component.mjs):
 * service `counter`, whose methods append the call's token to a journal file
 * the moment the handler starts, with a plain write(2), so the journal
 * survives a SIGKILL; then they work `workMs` (stopping early when the call
 * is cancelled). `add(token)` increments (not idempotent); `get(token)` reads
 * (idempotent). The suite compares the journal with what callers were told.
 * Command `stall({ on })` makes the methods hang until their call is
 * cancelled (the deadline passes) while the server keeps heartbeating: an
 * instance that looks alive and answers nothing.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** Resolves after `ms` (never if infinite), or rejects with the reason when `signal` aborts first. */
function work(ms, signal) {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms)
      : undefined;
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
  let stalled = false;
  const ran = async (token, ctx) => {
    writeSync(fd, `${token}\n`);
    await work(stalled ? Number.POSITIVE_INFINITY : workMs, ctx.signal);
  };
  const service = {
    name: 'counter',
    version: '1.0.0',
    methods: {
      async add(token, ctx) {
        await ran(token, ctx);
        total += 1;
        return total;
      },
      async get(token, ctx) {
        await ran(token, ctx);
        return total;
      },
    },
  };
  const server = await sb.serve(service, { ...connection, ...config.options });
  return {
    info: { instanceId: server.instanceId },
    handlers: {
      stall: ({ on }) => {
        stalled = on === true;
        return stalled;
      },
      close: async () => {
        await server.close();
        closeSync(fd);
      },
    },
  };
}
