/**
 * What one endpoint (one method of an instance or a route) counts for
 * `$SRV.STATS`: ADR-32's requests, errors, last error and time, and in the
 * endpoint's free-form `data` what an observer of the mesh needs beyond them
 * (the codes of the errors, where the last one arose, which paths the calls
 * came by).
 */

/** A failed call, as the endpoint answered it. */
export interface RecordedError {
  /** The stable error code (`APPLICATION`, `UNAVAILABLE`...). */
  readonly code: string;
  readonly message: string;
  /** The site where the error arose. */
  readonly site?: string | undefined;
  /** The PATH of the call where the error arose (origin first). */
  readonly path?: readonly string[] | undefined;
}

/** The `data` of an endpoint in `$SRV.STATS` (snake case, as the rest of the reply). */
export interface EndpointStatsData {
  /** Failed calls, by error code. */
  errors_by_code: Record<string, number>;
  /** Calls, by the PATH they arrived with (sites joined by `,`, origin first). */
  calls_by_path: Record<string, number>;
  last_error_code?: string;
  last_error_site?: string;
  /** The PATH of the last failed call where its error arose, joined by `,`. */
  last_error_path?: string;
}

/**
 * Distinct paths counted per endpoint; the others are counted under
 * {@link OTHER_PATHS}. PATH comes from callers: a bound keeps a caller that
 * makes paths up from growing the map.
 */
export const MAX_COUNTED_PATHS = 32;
/** Longest path key counted as itself, in characters (a chain of a dozen sites). */
const MAX_PATH_KEY = 256;
/** The key of `calls_by_path` counting the calls past {@link MAX_COUNTED_PATHS} paths. */
export const OTHER_PATHS = '*';

/** Requests, errors and time of one endpoint (one method), as `$SRV.STATS` reports them. */
export class EndpointStats {
  requests = 0;
  errors = 0;
  lastError = '';
  /** Nanoseconds spent, in all. */
  processingNs = 0;
  readonly #byCode = new Map<string, number>();
  readonly #byPath = new Map<string, number>();
  #last: RecordedError | undefined;

  /**
   * Records one call that took `ms`, arrived with PATH `path`, and failed
   * with `error` (if it failed).
   */
  record(ms: number, path: readonly string[], error?: RecordedError): void {
    this.requests++;
    this.processingNs += Math.round(ms * 1e6);
    const key = path.length === 1 ? path[0]! : path.join(',');
    const counted =
      this.#byPath.has(key) ||
      (this.#byPath.size < MAX_COUNTED_PATHS && key.length <= MAX_PATH_KEY);
    bump(this.#byPath, counted ? key : OTHER_PATHS);
    if (error !== undefined) {
      this.errors++;
      this.lastError = error.message;
      this.#last = error;
      bump(this.#byCode, error.code);
    }
  }

  /** The endpoint's `data` in `$SRV.STATS`. */
  data(): EndpointStatsData {
    const data: EndpointStatsData = {
      errors_by_code: Object.fromEntries(this.#byCode),
      calls_by_path: Object.fromEntries(this.#byPath),
    };
    const last = this.#last;
    if (last) {
      data.last_error_code = last.code;
      if (last.site !== undefined) data.last_error_site = last.site;
      if (last.path !== undefined) data.last_error_path = last.path.join(',');
    }
    return data;
  }
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
