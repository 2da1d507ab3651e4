/**
 * The one error type of Switchboard: every failure a caller can see carries a
 * stable {@link ErrorCode}, and errors cross the wire as {@link ErrorData} to be
 * rebuilt on the far side.
 */

/** Stable error codes. The values are part of the wire protocol. */
export const ErrorCode = {
  /** No registered service has that name (and version range). */
  SERVICE_NOT_FOUND: 'SERVICE_NOT_FOUND',
  /** The service exists but has no such method. */
  METHOD_NOT_FOUND: 'METHOD_NOT_FOUND',
  /** The request was malformed: bad msgpack, unknown version, missing fields. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The deadline passed before a result arrived. */
  TIMEOUT: 'TIMEOUT',
  /** Nothing could take the call now: no live instance, no broker, busy, closing. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** A policy refused the call. */
  FORBIDDEN: 'FORBIDDEN',
  /** A request or reply exceeded the configured maximum payload. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The caller aborted the call through its AbortSignal. */
  CANCELLED: 'CANCELLED',
  /** The handler threw: see `remoteName`, `appCode` and `details`. */
  APPLICATION: 'APPLICATION',
  /** A bug or unexpected state inside Switchboard. */
  INTERNAL: 'INTERNAL',
} as const;

/** One of the stable codes of {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Whether a string is one of the stable error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value);
}

/**
 * Whether the call was carried out where the error arose, as CORBA's completion
 * status: `no` means it provably never reached a handler, so it is always safe
 * to retry; `maybe` means the handler may have run.
 */
export type Completion = 'yes' | 'no' | 'maybe';

/** Codes a client may retry on another instance when completion is `no`. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
]);

/** How an error travels on the wire. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  /** Name of the original error (`RangeError`, a custom class name...). */
  name: string;
  /** Application-defined code thrown by a handler (e.g. `DIVIDE_BY_ZERO`). */
  appCode?: string;
  /** Application-defined details; any msgpack-encodable value. */
  details?: unknown;
  /** Site where the error arose. */
  site?: string;
  /** Service where the error arose. */
  service?: string;
  completed: Completion;
  /** Sites the call crossed before the error arose, origin first. */
  path?: string[];
}

/** Options of the {@link SwitchboardError} constructor. */
export interface SwitchboardErrorOptions {
  name?: string;
  appCode?: string;
  details?: unknown;
  site?: string;
  service?: string;
  /** @default 'maybe' */
  completed?: Completion;
  path?: string[];
  cause?: unknown;
}

/**
 * The `cause` of the `FORBIDDEN` a request gets when NATS itself refused to
 * deliver it (the credential may not publish there): no peer's answer can
 * carry it, so a reply forged to look like it cannot pass for it.
 */
export const REFUSED_BY_NATS: unique symbol = Symbol('refused by NATS');

/** Whether `err` is NATS's own refusal of a request (see {@link REFUSED_BY_NATS}), not a peer's answer. */
export function isRefusedByNats(err: unknown): boolean {
  return err instanceof SwitchboardError && err.cause === REFUSED_BY_NATS;
}

/** The error every Switchboard API throws; `code` is stable, `message` is for people. */
export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  /** Name of the error at its origin (the handler's error class, or `SwitchboardError`). */
  readonly remoteName: string;
  readonly appCode: string | undefined;
  readonly details: unknown;
  readonly site: string | undefined;
  readonly service: string | undefined;
  readonly completed: Completion;
  readonly path: string[] | undefined;

  constructor(code: ErrorCode, message: string, options: SwitchboardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchboardError';
    this.code = code;
    this.remoteName = options.name ?? 'SwitchboardError';
    this.appCode = options.appCode;
    this.details = options.details;
    this.site = options.site;
    this.service = options.service;
    this.completed = options.completed ?? 'maybe';
    this.path = options.path;
  }

  /**
   * An error without a stack trace: for refusals of what peers send (a bad
   * message can arrive thousands of times a second, and where in our code
   * it was refused says nothing the message does not).
   */
  static refusal(
    code: ErrorCode,
    message: string,
    options: SwitchboardErrorOptions = {},
  ): SwitchboardError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new SwitchboardError(code, message, options);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** Whether retrying elsewhere cannot run the handler twice. */
  get retryable(): boolean {
    return this.completed === 'no' && RETRYABLE_CODES.has(this.code);
  }

  /** The wire form of this error. */
  toData(): ErrorData {
    const data: ErrorData = {
      code: this.code,
      message: this.message,
      name: this.remoteName,
      completed: this.completed,
    };
    if (this.appCode !== undefined) data.appCode = this.appCode;
    if (this.details !== undefined) data.details = this.details;
    if (this.site !== undefined) data.site = this.site;
    if (this.service !== undefined) data.service = this.service;
    if (this.path !== undefined) data.path = this.path;
    return data;
  }

  /** Rebuilds an error from its wire form. */
  static fromData(data: ErrorData): SwitchboardError {
    return new SwitchboardError(data.code, data.message, {
      name: data.name,
      appCode: data.appCode,
      details: data.details,
      site: data.site,
      service: data.service,
      completed: data.completed,
      path: data.path,
    });
  }

  toJSON(): ErrorData {
    return this.toData();
  }
}

/**
 * Error a handler may throw to choose the application code and details the
 * caller sees. Any other thrown value works too; its `code` property, when a
 * string, becomes the application code.
 */
export class ApplicationError extends Error {
  readonly appCode: string;
  readonly details: unknown;

  constructor(appCode: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ApplicationError';
    this.appCode = appCode;
    this.details = details;
  }
}

/** Where a thrown value is being turned into a {@link SwitchboardError}. */
export interface ErrorOrigin {
  site?: string;
  service?: string;
  completed?: Completion;
  path?: string[];
}

/**
 * Turns any thrown value into a {@link SwitchboardError}. A SwitchboardError
 * passes through as it is; anything else becomes an `APPLICATION` error that keeps
 * the original name, message, `code` (as application code) and `details`.
 */
export function toSwitchboardError(thrown: unknown, origin: ErrorOrigin = {}): SwitchboardError {
  if (thrown instanceof SwitchboardError) return thrown;
  const fields =
    thrown !== null && typeof thrown === 'object' ? (thrown as Record<string, unknown>) : {};
  const name = typeof fields.name === 'string' ? fields.name : 'Error';
  const message =
    thrown instanceof Error
      ? thrown.message
      : typeof fields.message === 'string'
        ? fields.message
        : stringOf(thrown);
  const appCode =
    typeof fields.appCode === 'string'
      ? fields.appCode
      : typeof fields.code === 'string'
        ? fields.code
        : undefined;
  return new SwitchboardError(ErrorCode.APPLICATION, message, {
    name,
    appCode,
    details: fields.details,
    site: origin.site,
    service: origin.service,
    completed: origin.completed ?? 'yes',
    path: origin.path,
    cause: thrown,
  });
}

/** `String(value)`, or its type tag for a value without one (`Object.create(null)`). */
function stringOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
