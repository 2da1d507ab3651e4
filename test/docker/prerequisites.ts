/**
 * What a Docker test needs, checked before it runs. Where this machine lacks
 * something, the suite is skipped and its title names what is missing and how
 * to get it, instead of failing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { natsImage } from '../../src/testing/index.js';
import { loadTestcontainers } from '../../src/testing/testcontainers.js';
import { REPO } from '../integration/deploy-compose-file.js';
import { docker } from './docker.js';

export interface DockerNeeds {
  /** A Docker engine that answers the docker CLI (at DOCKER_HOST, else the default socket). */
  engine?: boolean;
  /** Compose v2: `docker compose`. */
  compose?: boolean;
  /** BuildKit through `docker buildx` (the Dockerfile's `RUN --mount`). */
  buildx?: boolean;
  /** Images that must be present, or pullable. */
  images?: readonly string[];
  /** The testcontainers package, and its Ryuk image unless `TESTCONTAINERS_RYUK_DISABLED=true`. */
  testcontainers?: boolean;
}

/** The default of a build argument of the repository's Dockerfile. */
function dockerfileArg(name: string): string {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const value = new RegExp(`^ARG ${name}=(\\S+)$`, 'm').exec(dockerfile)?.[1];
  if (value === undefined) throw new Error(`the Dockerfile has no ARG ${name}=...`);
  return value;
}

/** The Node.js image the switchboard image is built on: `SWITCHBOARD_NODE_IMAGE`, else the Dockerfile's default. */
export const NODE_IMAGE = process.env.SWITCHBOARD_NODE_IMAGE || dockerfileArg('NODE_IMAGE');
/** The NATS image of the compose files and the fixture: `SWITCHBOARD_NATS_IMAGE`, else `nats:2.10-alpine`. */
export const NATS_IMAGE = natsImage();

const HOW_TO_START = 'scripts/docker-engine.sh start';

async function engineMissing(): Promise<string | undefined> {
  const ran = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 20_000 });
  if (ran.code === 0) return undefined;
  if (/ENOENT/.test(ran.stderr)) return 'no docker command on the PATH';
  const where = process.env.DOCKER_HOST ?? 'the default socket';
  return `no Docker engine answers at ${where} (start one: ${HOW_TO_START})`;
}

/** `docker <plugin> version` must succeed and print a version matching `wanted`. */
async function pluginMissing(plugin: string, wanted = /\d+\.\d+/): Promise<string | undefined> {
  const ran = await docker([plugin, 'version'], { timeoutMs: 20_000 });
  if (ran.code !== 0) return `no docker ${plugin} (${HOW_TO_START} installs it)`;
  const version = ran.stdout.trim();
  return wanted.test(version)
    ? undefined
    : `docker ${plugin} is "${version}", not ${wanted.source}`;
}

async function imageMissing(image: string, hint: string): Promise<string | undefined> {
  if ((await docker(['image', 'inspect', image], { timeoutMs: 20_000 })).code === 0) {
    return undefined;
  }
  if ((await docker(['pull', '--quiet', image], { timeoutMs: 600_000 })).code === 0) {
    return undefined;
  }
  return `image ${image} is neither present nor pullable (${hint})`;
}

const OFFLINE_HINT =
  'no registry answers? scripts/offline-images.sh builds stand-ins from Debian packages, ' +
  'chosen with SWITCHBOARD_NODE_IMAGE and SWITCHBOARD_NATS_IMAGE';

async function testcontainersMissing(): Promise<string | undefined> {
  try {
    await loadTestcontainers();
  } catch {
    return 'the testcontainers package is not installed (a development dependency: npm ci)';
  }
  if (process.env.TESTCONTAINERS_RYUK_DISABLED === 'true') return undefined;
  const { REAPER_IMAGE } = await import('testcontainers/build/reaper/reaper.js');
  return imageMissing(
    REAPER_IMAGE,
    'set TESTCONTAINERS_RYUK_DISABLED=true where no registry answers',
  );
}

/** What this machine lacks of `needs`, each with how to get it; empty when nothing. */
export async function missingForDocker(needs: DockerNeeds): Promise<string[]> {
  const missing: (string | undefined)[] = [];
  if (needs.compose) missing.push(await pluginMissing('compose', /\bv?2\.\d+/));
  const usesEngine =
    needs.engine || needs.buildx || needs.testcontainers || (needs.images?.length ?? 0) > 0;
  const engine = usesEngine ? await engineMissing() : undefined;
  missing.push(engine);
  if (engine === undefined) {
    if (needs.buildx) missing.push(await pluginMissing('buildx'));
    for (const image of needs.images ?? []) missing.push(await imageMissing(image, OFFLINE_HINT));
    if (needs.testcontainers) missing.push(await testcontainersMissing());
  }
  return missing.filter((reason) => reason !== undefined);
}

export { suiteTitle } from '../support/suite-title.js';
