/**
 * One compose project of the Docker tests: files of deploy/, a project name of
 * its own (so it never meets a mesh a user runs), and the environment of
 * `docker compose`. `down()` removes everything it started, and `leftovers()`
 * lists anything of it still on the engine.
 */
import { join } from 'node:path';
import { calculatorRoutes, DEPLOY } from '../integration/deploy-compose-file.js';
import { docker, dockerOk, type Ran, until } from './docker.js';

/** `up --wait` on a cold engine starts NATS, then brokers, then the rest: allow for slow CI. */
export const UP_TIMEOUT_MS = 5 * 60_000;

/** Routes spread within about a second of a bridge starting; allow for a busy 2-core CI machine. */
export const SPREAD_MS = 60_000;

/**
 * Calls `calculator@c.add 1 2` with `atSiteA` (the CLI in a container at site
 * a) until it answers 3: the routes to site c are in place.
 */
export async function untilCReachable(atSiteA: (...argv: string[]) => Promise<Ran>): Promise<void> {
  let last: Ran | undefined;
  await until(
    async () => {
      last = await atSiteA('call', 'calculator@c.add', '1', '2');
      return last.code === 0 && last.stdout.trim() === '3';
    },
    SPREAD_MS,
    () => `calculator@c.add from site a (last: exit ${last?.code}, ${last?.stderr}${last?.stdout})`,
  );
}

/**
 * Runs `lsMeshJson` (the CLI's `ls --mesh --json` in a container; its stdout,
 * or undefined when it failed) until the calculators it lists, as
 * `site:path`, are `expected`: routes come and go a moment after a bridge
 * does.
 */
export async function untilRoutes(
  lsMeshJson: () => Promise<string | undefined>,
  expected: readonly string[],
): Promise<void> {
  let seen = '(nothing listed yet)';
  await until(
    async () => {
      const stdout = await lsMeshJson();
      if (stdout === undefined) return false;
      try {
        seen = calculatorRoutes(stdout).join(' ');
      } catch {
        seen = `unreadable: ${stdout.slice(0, 200)}`;
        return false;
      }
      return seen === expected.join(' ');
    },
    SPREAD_MS,
    () => `calculators ${expected.join(' ')} listed (last: ${seen})`,
  );
}

/** What {@link ComposeProject.states} says of deploy/docker-compose.yml's mesh once it is up. */
export const MESH_UP = [
  'bridge-ab running healthy',
  'bridge-bc running healthy',
  'broker-a running healthy',
  'broker-b running healthy',
  'broker-c running healthy',
  'calculator-a running healthy',
  'calculator-b running healthy',
  'calculator-c running healthy',
  'dashboard running healthy',
  'nats-a running healthy',
  'nats-b running healthy',
  'nats-c running healthy',
];

export class ComposeProject {
  constructor(
    readonly name: string,
    private readonly files: readonly string[],
    private readonly env: Record<string, string>,
  ) {}

  /** Runs `docker compose -p NAME -f ... args`. */
  compose(args: readonly string[], timeoutMs = 120_000): Promise<Ran> {
    const files = this.files.flatMap((file) => ['-f', join(DEPLOY, file)]);
    return docker(['compose', '-p', this.name, ...files, ...args], { env: this.env, timeoutMs });
  }

  /** `up -d --wait`: resolves once NATS and brokers are healthy and the rest runs. */
  async up(): Promise<void> {
    const ran = await this.compose(['up', '--detach', '--wait', '--no-build'], UP_TIMEOUT_MS);
    if (ran.code !== 0) {
      const logs = await this.compose(['logs', '--no-color', '--tail', '30']);
      throw new Error(`compose up of ${this.name} failed:\n${ran.stderr}\n${logs.stdout}`);
    }
  }

  /** Stops and removes the project's containers and networks; safe to call twice. */
  async down(): Promise<void> {
    await this.compose(['down', '--remove-orphans', '--timeout', '20']);
  }

  /** `SERVICE STATE HEALTH` of each service, sorted. */
  async states(): Promise<string[]> {
    const ps = await this.compose(['ps', '--format', '{{.Service}} {{.State}} {{.Health}}']);
    return ps.stdout.trim().split('\n').sort();
  }

  /** `docker compose exec -T SERVICE ...argv`. */
  exec(service: string, argv: readonly string[]): Promise<Ran> {
    return this.compose(['exec', '-T', service, ...argv]);
  }

  /** The engine's name of one of the project's networks. */
  network(name: string): string {
    return `${this.name}_${name}`;
  }

  /** Containers and networks of this project still on the engine. */
  async leftovers(): Promise<string[]> {
    const label = `label=com.docker.compose.project=${this.name}`;
    const containers = await dockerOk(['ps', '--all', '--filter', label, '--format', '{{.Names}}']);
    const networks = await dockerOk(['network', 'ls', '--filter', label, '--format', '{{.Name}}']);
    return `${containers}${networks}`.split('\n').filter((line) => line !== '');
  }
}
