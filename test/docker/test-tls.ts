/**
 * Whether the test TLS material of the secured compose files can be made:
 * `switchboard secure init` signs its certificates with openssl.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether `openssl` can be run; the reason when not. */
export async function opensslMissing(): Promise<string | undefined> {
  try {
    await run('openssl', ['version']);
    return undefined;
  } catch {
    return 'no openssl command on the PATH (secure init signs the test certificates with it)';
  }
}
