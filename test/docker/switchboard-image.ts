/**
 * The switchboard image, built from the repository's Dockerfile the way the
 * docs say: on NODE_IMAGE, with the CA bundle this machine trusts for the npm
 * registry (NODE_EXTRA_CA_CERTS) as the `npm-ca` build secret. Every Docker
 * test that runs the image builds it first; after the first build BuildKit's
 * cache makes that a few seconds.
 */
import { existsSync } from 'node:fs';
import { REPO } from '../integration/deploy-compose-file.js';
import { dockerOk } from './docker.js';
import { NODE_IMAGE } from './prerequisites.js';

/** The tag the compose files run. */
export const SWITCHBOARD_IMAGE = 'switchboard:latest';
/** Building on a cold machine runs `npm ci` in the image: minutes. */
export const BUILD_TIMEOUT_MS = 10 * 60_000;

/** The `docker build` arguments for the switchboard image. */
export function buildArgs(): string[] {
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  const secret = ca !== undefined && existsSync(ca) ? ['--secret', `id=npm-ca,src=${ca}`] : [];
  return [
    'build',
    '--quiet',
    '--build-arg',
    `NODE_IMAGE=${NODE_IMAGE}`,
    ...secret,
    '--tag',
    SWITCHBOARD_IMAGE,
    REPO,
  ];
}

/** Builds (or finds in the build cache) the switchboard image. */
export async function buildSwitchboardImage(): Promise<void> {
  await dockerOk(buildArgs(), { timeoutMs: BUILD_TIMEOUT_MS });
}
