/**
 * Reads the compose files of deploy/ the way `docker compose config` does, as
 * far as these files need: `${VAR:-default}` / `${VAR:?error}` interpolation,
 * YAML merge keys, and override files merged over the first one. Shared by the
 * deploy tests, which run where no Docker engine (nor compose) is installed.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(REPO, 'deploy');
/** The three-site mesh. */
export const MESH_COMPOSE = 'docker-compose.yml';

/** One service of a compose model, with the parts the tests look at normalised. */
export interface ComposeService {
  name: string;
  image?: string;
  /** Build context, resolved against deploy/. */
  buildContext?: string;
  dockerfile?: string;
  command?: unknown;
  /** After interpolation. */
  environment: Record<string, string>;
  /** As written, before interpolation. */
  rawEnvironment: Record<string, unknown>;
  networks: string[];
  /** Service → condition. */
  dependsOn: Record<string, string>;
  healthcheck?: { test?: unknown };
  restart?: string;
  volumes: string[];
  secrets: string[];
}

export interface ComposeModel {
  services: Map<string, ComposeService>;
  networks: string[];
  /** Secret name → file, resolved against deploy/. */
  secrets: Record<string, string>;
}

type Yaml = Record<string, unknown>;

const isMapping = (v: unknown): v is Yaml =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys whose value an override replaces instead of merging into. */
const REPLACED = new Set(['command', 'entrypoint', 'test']);

/** Compose's merge of an override file: mappings merge, lists append, `command` is replaced. */
function mergeOverride(base: unknown, over: unknown, key = ''): unknown {
  if (isMapping(base) && isMapping(over)) {
    const merged: Yaml = { ...base };
    for (const [k, v] of Object.entries(over)) merged[k] = mergeOverride(base[k], v, k);
    return merged;
  }
  if (Array.isArray(base) && Array.isArray(over) && !REPLACED.has(key)) {
    return [...base, ...over.filter((item) => !base.includes(item))];
  }
  return over === undefined ? base : over;
}

/** `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$$`. */
export function interpolate(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (match, name: string | undefined, colon: string, op: string, arg: string) => {
      if (match === '$$') return '$';
      const value = vars[name as string];
      const unset = value === undefined || (colon === ':' && value === '');
      if (!unset) return value;
      if (op === '?') throw new Error(`required variable ${name} is missing: ${arg}`);
      return op === '-' ? arg : '';
    },
  );
}

function interpolateAll(value: unknown, vars: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, vars));
  if (isMapping(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, vars)]));
  }
  return value;
}

function environmentOf(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((entry) => {
        const [name, ...rest] = String(entry).split('=');
        return [name, rest.join('=')];
      }),
    );
  }
  return isMapping(value) ? value : {};
}

function namesOf(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.map((v) => (isMapping(v) ? String(v.source) : String(v)));
  }
  return isMapping(value) ? Object.keys(value) : [];
}

/** Parses one file as YAML with merge keys, `x-` extension fields dropped. */
export function readComposeYaml(file: string): Yaml {
  const doc = parse(readFileSync(join(DEPLOY, file), 'utf8'), { merge: true }) as unknown;
  if (!isMapping(doc)) throw new Error(`${file}: not a mapping`);
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('x-')));
}

/**
 * The model of `docker compose -f files[0] -f files[1] ...` with `vars` as the
 * environment of `docker compose`.
 */
export function loadCompose(
  files: readonly string[],
  vars: Record<string, string | undefined> = {},
): ComposeModel {
  const raw = files.map(readComposeYaml).reduce((base, over) => mergeOverride(base, over) as Yaml);
  const doc = interpolateAll(raw, vars) as Yaml;
  const rawServices = isMapping(raw.services) ? raw.services : {};
  const services = new Map<string, ComposeService>();
  for (const [name, value] of Object.entries(isMapping(doc.services) ? doc.services : {})) {
    const s = isMapping(value) ? value : {};
    const build = typeof s.build === 'string' ? { context: s.build } : s.build;
    const dependsOn = isMapping(s.depends_on)
      ? Object.fromEntries(
          Object.entries(s.depends_on).map(([k, v]) => [
            k,
            String(isMapping(v) ? v.condition : 'service_started'),
          ]),
        )
      : Object.fromEntries(namesOf(s.depends_on).map((k) => [k, 'service_started']));
    const rawService = rawServices[name];
    services.set(name, {
      name,
      image: typeof s.image === 'string' ? s.image : undefined,
      buildContext: isMapping(build) ? join(DEPLOY, String(build.context)) : undefined,
      dockerfile: isMapping(build) ? String(build.dockerfile ?? 'Dockerfile') : undefined,
      command: s.command,
      environment: Object.fromEntries(
        Object.entries(environmentOf(s.environment)).map(([k, v]) => [k, String(v)]),
      ),
      rawEnvironment: environmentOf(isMapping(rawService) ? rawService.environment : undefined),
      networks: namesOf(s.networks),
      dependsOn,
      healthcheck: isMapping(s.healthcheck) ? s.healthcheck : undefined,
      restart: typeof s.restart === 'string' ? s.restart : undefined,
      volumes: Array.isArray(s.volumes) ? s.volumes.map(String) : [],
      secrets: namesOf(s.secrets),
    });
  }
  const secrets = Object.fromEntries(
    Object.entries(isMapping(doc.secrets) ? doc.secrets : {}).map(([k, v]) => [
      k,
      join(DEPLOY, String(isMapping(v) ? v.file : '')),
    ]),
  );
  return { services, networks: namesOf(doc.networks), secrets };
}

/** Whether a service runs the switchboard image (built from the repository's Dockerfile). */
export function runsSwitchboard(service: ComposeService): boolean {
  return service.buildContext !== undefined || (service.image ?? '').startsWith('switchboard');
}

/** Whether a service runs the official NATS image. */
export function runsNats(service: ComposeService): boolean {
  return (service.image ?? '').startsWith('nats:');
}

const NATS_URL = /\b(?:nats|tls):\/\/([A-Za-z0-9._-]+)(?::(\d+))?/g;

/** Every `nats://host:port` / `tls://host:port` in a service's command and environment. */
export function natsUrlsOf(service: ComposeService): { url: string; host: string; port: number }[] {
  const texts = [
    ...(Array.isArray(service.command) ? service.command.map(String) : []),
    ...Object.values(service.environment),
  ];
  return texts.flatMap((text) =>
    [...text.matchAll(NATS_URL)].map((m) => ({
      url: m[0],
      host: m[1] as string,
      port: Number(m[2] ?? 4222),
    })),
  );
}

/**
 * `site:path` of each calculator instance in the JSON of `switchboard ls --mesh --json`,
 * sorted: what the mesh of deploy/docker-compose.yml shows from site a.
 */
export function calculatorRoutes(lsMeshJson: string): string[] {
  const listing = JSON.parse(lsMeshJson) as {
    services: { name: string; instances: { site: string; path: string[] }[] }[];
  };
  return listing.services
    .filter((s) => s.name === 'calculator')
    .flatMap((s) => s.instances.map((i) => `${i.site}:${i.path.join('>')}`))
    .sort();
}
