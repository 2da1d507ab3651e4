/**
 * Something that holds what was received but not handed on yet (a reader
 * delivering a socket chunk in slices): a late task waits for what it holds
 * at the time to be handed on.
 */
export interface Backlog {
  /** Calls `done` once everything held now has been handed on. */
  afterHeld(done: () => void): void;
}

const BACKLOGS = new Set<Backlog>();

/** Marks `backlog` as holding something (`true`) or nothing (`false`) for {@link afterArrivals}. */
export function holdsBacklog(backlog: Backlog, holding: boolean): void {
  if (holding) BACKLOGS.add(backlog);
  else BACKLOGS.delete(backlog);
}

/**
 * Runs `task` once every {@link Backlog} has handed on what it holds (at
 * once where none holds anything), and, when its timer fired after `due`
 * (the process was busy), once Node's I/O phase has read what arrived
 * meanwhile first: a busy process runs its timers before it reads its
 * sockets, and a reply, a heartbeat or a renewal already received must
 * count before anything is timed out or expired.
 */
export function afterArrivals(due: number, task: () => void): void {
  if (Date.now() > due) setImmediate(afterBacklogs, task);
  else afterBacklogs(task);
}

function afterBacklogs(task: () => void): void {
  let left = BACKLOGS.size;
  if (left === 0) return task();
  for (const backlog of BACKLOGS) {
    backlog.afterHeld(() => {
      if (--left === 0) task();
    });
  }
}
