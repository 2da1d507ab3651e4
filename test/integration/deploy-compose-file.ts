/**
 * Reads the compose files of deploy/ the way `docker compose config` does, as
 * far as these files need: `${VAR:-default}` / `${VAR:?error}` interpolation,
 * YAML merge keys, and override files merged over the first one. Shared by the
 * deploy tests, which run where no Docker engine (nor compose) is installed.
 */

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(REPO, 'deploy');
/** The three-site mesh. */
export const MESH_COMPOSE = 'docker-compose.yml';
/** Its override with TLS and per-role credentials. */
export const MESH_SECURE = 'docker-compose.secure.yml';

/** One service of a compose model, with the parts the tests look at normalised. */
export interface ComposeService {
  name: string;
  image?: string;
  /** Build context, resolved against deploy/. */
  buildContext?: string;
  dockerfile?: string;
  command?: unknown;
  /** After interpolation, with the variables of its env files (`environment` wins over them). */
  environment: Record<string, string>;
  /** As written, before interpolation (without the env files). */
  rawEnvironment: Record<string, unknown>;
  /** Env files, as written before interpolation. */
  rawEnvFiles: string[];
  networks: string[];
  /** Service → condition. */
  dependsOn: Record<string, string>;
  healthcheck?: { test?: unknown };
  restart?: string;
  volumes: string[];
  secrets: string[];
  /** Where each secret is mounted in the container (`/run/secrets/ca`) → its file on the host. */
  secretMounts: Record<string, string>;
}

export interface ComposeModel {
  services: Map<string, ComposeService>;
  networks: string[];
  /** Secret name → file, resolved against deploy/. */
  secrets: Record<string, string>;
  /** Secret name → file, as written before interpolation. */
  rawSecrets: Record<string, string>;
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

/** The entries of `env_file`: one path, or a list of paths or `{ path }` mappings. */
function envFilesOf(value: unknown): string[] {
  const entries = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return entries.map((entry) => String(isMapping(entry) ? entry.path : entry));
}

/** The variables of an env file: `NAME=value` lines; `#` starts a comment line. */
function readEnvFile(path: string): Record<string, string> {
  const lines = readFileSync(isAbsolute(path) ? path : join(DEPLOY, path), 'utf8').split('\n');
  return Object.fromEntries(
    lines
      .filter((line) => line.includes('=') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** A service's secrets: where each is mounted (`target`, under /run/secrets/ unless absolute). */
function secretMountsOf(value: unknown, files: Record<string, string>): Record<string, string> {
  const entries = Array.isArray(value) ? value : [];
  return Object.fromEntries(
    entries.map((entry) => {
      const source = String(isMapping(entry) ? entry.source : entry);
      const target = isMapping(entry) && entry.target !== undefined ? String(entry.target) : source;
      const path = target.startsWith('/') ? target : `/run/secrets/${target}`;
      return [path, files[source] ?? ''];
    }),
  );
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
  const fileOf = (v: unknown) => String(isMapping(v) ? v.file : '');
  const secrets = Object.fromEntries(
    Object.entries(isMapping(doc.secrets) ? doc.secrets : {}).map(([k, v]) => {
      const file = fileOf(v);
      return [k, isAbsolute(file) ? file : join(DEPLOY, file)];
    }),
  );
  const rawSecrets = Object.fromEntries(
    Object.entries(isMapping(raw.secrets) ? raw.secrets : {}).map(([k, v]) => [k, fileOf(v)]),
  );
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
    const rawService = isMapping(rawServices[name]) ? rawServices[name] : {};
    const fromFiles = Object.assign({}, ...envFilesOf(s.env_file).map(readEnvFile));
    services.set(name, {
      name,
      image: typeof s.image === 'string' ? s.image : undefined,
      buildContext: isMapping(build) ? join(DEPLOY, String(build.context)) : undefined,
      dockerfile: isMapping(build) ? String(build.dockerfile ?? 'Dockerfile') : undefined,
      command: s.command,
      environment: {
        ...fromFiles,
        ...Object.fromEntries(
          Object.entries(environmentOf(s.environment)).map(([k, v]) => [k, String(v)]),
        ),
      },
      rawEnvironment: environmentOf(rawService.environment),
      rawEnvFiles: envFilesOf(rawService.env_file),
      networks: namesOf(s.networks),
      dependsOn,
      healthcheck: isMapping(s.healthcheck) ? s.healthcheck : undefined,
      restart: typeof s.restart === 'string' ? s.restart : undefined,
      volumes: Array.isArray(s.volumes) ? s.volumes.map(String) : [],
      secrets: namesOf(s.secrets),
      secretMounts: secretMountsOf(s.secrets, secrets),
    });
  }
  return { services, networks: namesOf(doc.networks), secrets, rawSecrets };
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
