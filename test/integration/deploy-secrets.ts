/**
 * The material the secured compose files read from SWITCHBOARD_SECRETS, made
 * as their comments say (`switchboard secure init` per site) in a temporary
 * directory: `a`, `b` and `c` for the mesh, `a` also for the one-site file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secureInit } from '../../src/cli/secure/index.js';

/** Bridges of the mesh of deploy/docker-compose.yml: a–b and b–c. */
const PEERS: Record<string, string[]> = { a: ['b'], b: ['a', 'c'], c: ['b'] };

/** A directory holding the material of sites a, b and c; `remove()` deletes it. */
export interface DeploySecrets {
  dir: string;
  /** The material of one site. */
  site(name: string): string;
  /** Runs `secure init` on a site's material again, giving `identity` a new password. */
  rotate(site: string, identity: string): Promise<void>;
  remove(): Promise<void>;
}

/**
 * Makes the material of the mesh's three sites, each serving `calculator`,
 * with certificates that also name `extraHosts` (e.g. `localhost` is there
 * already; the published port of a one-site test needs nothing more).
 */
export async function makeDeploySecrets(extraHosts: string[] = []): Promise<DeploySecrets> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-deploy-secrets-'));
  const init = (site: string, rotate: string[]) =>
    secureInit({
      site,
      out: join(dir, site),
      services: ['calculator'],
      bridgeTo: PEERS[site] ?? [],
      rotate,
      tlsHosts: extraHosts,
      prefix: 'sb',
    });
  for (const site of Object.keys(PEERS)) await init(site, []);
  return {
    dir,
    site: (name) => join(dir, name),
    rotate: async (site, identity) => {
      await init(site, [identity]);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
