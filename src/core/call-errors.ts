/** The errors a call raises when there is nowhere (left) to send it, worded once. */
import { type CallMeta, ErrorCode, SwitchboardError } from '../protocol/index.js';
import type { Resolution } from './types.js';

/** `service`, with the version range asked for when there is one. */
export function describeService(meta: CallMeta): string {
  return meta.versionRange ? `${meta.service} (version ${meta.versionRange})` : meta.service;
}

/** The message of `UNAVAILABLE` for a known service with no live instance. */
export function noLiveInstance(meta: CallMeta, departedFrom: string | undefined): string {
  const where = departedFrom === undefined ? '' : ` (the last one was at site '${departedFrom}')`;
  return `no live instance of '${describeService(meta)}'${where}`;
}

/** An error raised at `site` about the call `meta`, before any handler could run it. */
export function callError(
  code: ErrorCode,
  message: string,
  meta: CallMeta,
  site: string | undefined,
): SwitchboardError {
  return new SwitchboardError(code, message, {
    completed: 'no',
    site,
    service: meta.service,
    path: meta.path,
  });
}

/**
 * No instance to send the call to: `UNAVAILABLE` when the service had one
 * recently (at the pinned site, when one is pinned), else `SERVICE_NOT_FOUND`.
 */
export function notFound(
  meta: CallMeta,
  pinnedSite: string | undefined,
  resolution: Resolution,
): SwitchboardError {
  const { site, departedFrom } = resolution;
  if (pinnedSite === undefined && departedFrom !== undefined) {
    return callError(ErrorCode.UNAVAILABLE, noLiveInstance(meta, departedFrom), meta, site);
  }
  if (pinnedSite !== undefined && resolution.departedSites?.includes(pinnedSite)) {
    const message = `${noLiveInstance(meta, undefined)} at site '${pinnedSite}' (it was there recently)`;
    return callError(ErrorCode.UNAVAILABLE, message, meta, site);
  }
  const where = pinnedSite === undefined ? '' : ` at site '${pinnedSite}'`;
  const similar = resolution.similar;
  const hint = similar === undefined ? '' : ` (did you mean '${similar}'?)`;
  const err = callError(
    ErrorCode.SERVICE_NOT_FOUND,
    `service '${describeService(meta)}'${where} is not registered${hint}`,
    meta,
    site,
  );
  if (similar === undefined) return err;
  return SwitchboardError.fromData({ ...err.toData(), details: { didYouMean: similar } });
}

/** `message` without the `'service': ` it starts with when a relay or server wrote it. */
function withoutService(message: string, meta: CallMeta): string {
  const named = `'${meta.service}': `;
  return message.startsWith(named) ? message.slice(named.length) : message;
}

/**
 * Every candidate failed: the last error, unless it only says that an
 * instance was gone, in which case `UNAVAILABLE` says no live one was left.
 */
export function exhausted(
  meta: CallMeta,
  lastError: SwitchboardError | undefined,
  site: string | undefined,
): SwitchboardError {
  if (lastError && !(lastError.code === ErrorCode.UNAVAILABLE && lastError.completed === 'no')) {
    return lastError;
  }
  const why = lastError ? `: ${withoutService(lastError.message, meta)}` : '';
  return callError(ErrorCode.UNAVAILABLE, `${noLiveInstance(meta, undefined)}${why}`, meta, site);
}
