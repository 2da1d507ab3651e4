import type { LinkState } from '../core/index.js';

/**
 * A connection's state as seen through a grace period: `lost` once it has
 * been down for the whole grace; `moved` when it came back within it (to the
 * same NATS server or, in a cluster, to another node); `back` when it came
 * back after being `lost`.
 */
export type GracefulLinkState = 'lost' | 'moved' | 'back';

/** What {@link linkGrace} returns: feed it the raw states; `stop()` drops a pending grace. */
export interface LinkGrace {
  onState(state: LinkState): void;
  stop(): void;
}

/**
 * Follows raw link states and tells `listener` what they amount to once
 * `graceMs` has had its say: a NATS cluster moves a client to another node
 * in well under a second, and what was in flight then need not be given up.
 * With a grace of 0, `down` is `lost` at once.
 */
export function linkGrace(
  graceMs: number,
  listener: (state: GracefulLinkState) => void,
): LinkGrace {
  let down = false;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (pending !== undefined) clearTimeout(pending);
    pending = undefined;
  };
  return {
    onState(state) {
      if (state === 'down') {
        if (down) return;
        down = true;
        if (graceMs <= 0) return listener('lost');
        pending = setTimeout(() => {
          pending = undefined;
          listener('lost');
        }, graceMs);
        pending.unref?.();
        return;
      }
      if (!down) return;
      down = false;
      const inGrace = pending !== undefined;
      stop();
      listener(inGrace ? 'moved' : 'back');
    },
    stop,
  };
}
