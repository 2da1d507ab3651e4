/**
 * Parent/child plumbing of the benchmark and the multi-process tests: every
 * component runs in its own Node process and talks to the orchestrator over
 * the IPC channel (`process.send`). Requests carry an id; each has a timeout,
 * and every child has a lifetime limit, so nothing can hang a run.
 */
import { spawn } from 'node:child_process';

/** Every child still running, by pid: the orchestrator kills these on exit. */
export const children = new Map();

/**
 * Spawns `node <scriptPath> '<json config>'` and resolves once the child says
 * it is ready (with what it said), or rejects after `readyTimeoutMs`.
 * `options.stdio` chooses where the child's output goes (default: ours);
 * `'pipe'` makes `child.output()` return what it wrote. `options.wrapper` is a
 * command prefix that must exec node (e.g. `ip netns exec NS`): the IPC
 * channel is an inherited descriptor, so it survives, and the pid stays node's.
 */
export function spawnChild(scriptPath, config, options = {}) {
  const {
    nodeArgs = [],
    readyTimeoutMs = 20_000,
    label = scriptPath,
    stdio = 'inherit',
    wrapper = [],
  } = options;
  const [command, ...args] = [
    ...wrapper,
    process.execPath,
    ...nodeArgs,
    scriptPath,
    JSON.stringify(config),
  ];
  const proc = spawn(command, args, {
    stdio: ['ignore', stdio, stdio, 'ipc'],
    env: { ...process.env, BENCH_CHILD: '1' },
  });
  let output = '';
  proc.stdout?.on('data', (chunk) => (output += chunk));
  proc.stderr?.on('data', (chunk) => (output += chunk));
  const pending = new Map();
  let seq = 0;
  let readyResolve;
  let readyReject;
  const ready = new Promise((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const child = {
    label,
    pid: proc.pid,
    proc,
    ready,
    exited,
    /** What the child wrote to stdout and stderr (with `stdio: 'pipe'`). */
    output: () => output,
    /** Sends a command; resolves with the child's answer. */
    request(cmd, params = {}, timeoutMs = 60_000) {
      if (proc.exitCode !== null || proc.signalCode !== null || !proc.connected) {
        return Promise.reject(new Error(`${label} (pid ${proc.pid}) is not running`));
      }
      const id = ++seq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: '${cmd}' got no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        proc.send({ id, cmd, params });
      });
    },
    /** Asks the child to exit, then kills it (by pid) if it has not within `graceMs`. */
    async stop(graceMs = 3000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      if (proc.connected) {
        try {
          proc.send({ id: 0, cmd: 'exit', params: {} });
        } catch {
          // channel already closed
        }
      }
      const timer = setTimeout(() => kill(proc.pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill(signal = 'SIGKILL') {
      kill(proc.pid, signal);
    },
  };
  const readyTimer = setTimeout(() => {
    readyReject(new Error(`${label} was not ready within ${readyTimeoutMs} ms`));
    kill(proc.pid, 'SIGKILL');
  }, readyTimeoutMs);
  proc.on('message', (msg) => {
    if (msg?.type === 'ready') {
      clearTimeout(readyTimer);
      readyResolve(msg.info ?? {});
      return;
    }
    if (msg?.type === 'fatal') {
      clearTimeout(readyTimer);
      readyReject(new Error(`${label}: ${msg.error}`));
      return;
    }
    const waiter = pending.get(msg?.id);
    if (!waiter) return;
    pending.delete(msg.id);
    clearTimeout(waiter.timer);
    if (msg.ok) waiter.resolve(msg.result);
    else waiter.reject(new Error(`${label}: ${msg.error}`));
  });
  proc.once('exit', (code, signal) => {
    children.delete(proc.pid);
    clearTimeout(readyTimer);
    readyReject(new Error(`${label} exited before it was ready (code ${code}, signal ${signal})`));
    for (const [id, waiter] of pending) {
      pending.delete(id);
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
    }
  });
  ready.catch(() => {});
  children.set(proc.pid, child);
  return child;
}

function kill(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Kills every child still running, by pid (synchronous: usable in an 'exit' handler). */
export function killAllChildren() {
  for (const pid of children.keys()) kill(pid, 'SIGKILL');
}

/**
 * The child side: parses the config, runs `setup(config)` (which returns the
 * command handlers and the info sent with "ready"), then answers commands.
 * Every child answers `cpu` (process.cpuUsage) and `memory`, exits on `exit`
 * (after `handlers.close`), when the parent goes away, and after `maxLifeMs`.
 */
export async function runChild(setup) {
  const config = JSON.parse(process.argv[2] ?? '{}');
  const maxLife = setTimeout(
    () => {
      process.stderr.write(`bench child ${process.argv[1]} exceeded its lifetime; exiting\n`);
      process.exit(3);
    },
    config.maxLifeMs ?? 15 * 60_000,
  );
  maxLife.unref();
  process.on('disconnect', () => process.exit(0));
  let handlers;
  try {
    const out = await setup(config);
    handlers = out.handlers ?? {};
    process.send({ type: 'ready', info: out.info ?? {} });
  } catch (err) {
    process.send({ type: 'fatal', error: String(err?.stack ?? err) });
    setTimeout(() => process.exit(1), 50);
    return;
  }
  process.on('message', async (msg) => {
    const { id, cmd, params } = msg;
    if (cmd === 'exit') {
      try {
        await Promise.race([handlers.close?.(), new Promise((r) => setTimeout(r, 2000))]);
      } finally {
        process.exit(0);
      }
      return;
    }
    try {
      let result;
      if (cmd === 'cpu') result = process.cpuUsage();
      else if (cmd === 'memory') {
        if (params?.gc && typeof global.gc === 'function') global.gc();
        result = process.memoryUsage();
      } else if (handlers[cmd]) result = await handlers[cmd](params ?? {});
      else throw new Error(`unknown command '${cmd}'`);
      process.send({ id, ok: true, result });
    } catch (err) {
      process.send({ id, ok: false, error: String(err?.stack ?? err) });
    }
  });
}
