/**
 * The NATS fixture's Docker backend (testcontainers) on a real engine: the
 * cases every backend passes, and that containers run only when asked for,
 * whether or not a nats-server binary is also installed.
 */
import { describe, expect, it, vi } from 'vitest';
import { natsImage, resolveNatsBackend, startNatsServer } from '../../src/testing/index.js';
import { fixtureCases, start } from '../integration/nats-fixture-cases.js';
import { dockerOk } from './docker.js';
import { missingForDocker, NATS_IMAGE, suiteTitle } from './prerequisites.js';

/** Names of the running containers of `image`. */
async function containersOf(image: string): Promise<string[]> {
  const names = await dockerOk(['ps', '--filter', `ancestor=${image}`, '--format', '{{.Names}}']);
  return names.split('\n').filter((name) => name !== '');
}

const missing = await missingForDocker({ images: [NATS_IMAGE], testcontainers: true });

describe.skipIf(missing.length > 0)(suiteTitle('docker backend', missing), () => {
  fixtureCases('docker');

  it('nats fixture - runs the image SWITCHBOARD_NATS_IMAGE names, and close() removes its container', async () => {
    expect(natsImage()).toBe(NATS_IMAGE);
    const before = await containersOf(NATS_IMAGE);
    const server = await start('docker', { name: 'oslo' });
    expect(server.backend).toBe('docker');
    expect(await containersOf(NATS_IMAGE)).toHaveLength(before.length + 1);
    await server.close();
    expect(await containersOf(NATS_IMAGE)).toEqual(before);
  });

  it('nats fixture - with an engine answering, the default is still the binary; auto picks Docker', async () => {
    vi.stubEnv('SWITCHBOARD_NATS_BACKEND', '');
    await expect(resolveNatsBackend()).resolves.toBe('binary');
    await expect(resolveNatsBackend('auto')).resolves.toBe('docker');
    vi.stubEnv('SWITCHBOARD_NATS_BACKEND', 'auto');
    const server = await startNatsServer({ name: 'auto' });
    try {
      expect(server.backend).toBe('docker');
    } finally {
      await server.close();
    }
  });
});
