/**
 * Runs `task` now, or, when its timer fired after `due` (the process was
 * busy), once Node's I/O phase has read what arrived meanwhile: a busy
 * process runs its timers before it reads its sockets, and a reply, a
 * heartbeat or a renewal already received must count before anything is
 * timed out or expired.
 */
export function afterArrivals(due: number, task: () => void): void {
  if (Date.now() > due) setImmediate(task);
  else task();
}
