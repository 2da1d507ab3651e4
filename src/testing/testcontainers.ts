/**
 * Loads `testcontainers`, which only the Docker backend of the NATS fixture
 * uses. It is an optional peer dependency (a development dependency of this
 * repository): a production install (`npm ci --omit=dev`) has none, and the
 * binary backend and the demo run without it.
 */

/** The `testcontainers` module. @internal */
export type Testcontainers = typeof import('testcontainers');

/** Thrown when the Docker backend is asked for but `testcontainers` is not installed. */
export class TestcontainersMissingError extends Error {
  override readonly name = 'TestcontainersMissingError';

  constructor(cause: unknown) {
    super(
      'the Docker backend of the NATS fixture needs the testcontainers package (11.x), which is not installed: ' +
        'npm install --save-dev testcontainers@11, or use the local nats-server (SWITCHBOARD_NATS_BACKEND=binary)',
      { cause },
    );
  }
}

function isMissingPackage(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    String(message).includes('testcontainers')
  );
}

/**
 * Imports `testcontainers` on first use.
 * @throws {TestcontainersMissingError} when it is not installed.
 * @internal
 */
export async function loadTestcontainers(): Promise<Testcontainers> {
  try {
    return await import('testcontainers');
  } catch (error) {
    throw isMissingPackage(error) ? new TestcontainersMissingError(error) : error;
  }
}
