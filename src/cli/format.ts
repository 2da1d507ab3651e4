import { ErrorCode, type SiteListing, SwitchboardError } from '../index.js';
import { type CliIo, ExitCode } from './io.js';

/**
 * JSON of a call result. msgpack carries more than JSON: big integers become
 * strings, binary becomes an array of bytes, maps become objects.
 */
export function toJson(value: unknown, indent = 2): string {
  return (
    JSON.stringify(
      value,
      (_key, v: unknown) => {
        if (typeof v === 'bigint')
          return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
        if (v instanceof Uint8Array) return Array.from(v);
        if (v instanceof Map) return Object.fromEntries(v);
        return v;
      },
      indent,
    ) ?? 'null'
  );
}

/** Any thrown value as a SwitchboardError; what is not one already is a bug (`INTERNAL`). */
export function asSwitchboardError(thrown: unknown): SwitchboardError {
  if (thrown instanceof SwitchboardError) return thrown;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new SwitchboardError(ErrorCode.INTERNAL, message, { cause: thrown });
}

/** `CODE: message (app code X, at site S, service V)`, the parenthesis only with what is known. */
export function describeError(err: SwitchboardError): string {
  const facts: string[] = [];
  if (err.appCode !== undefined) facts.push(`app code ${err.appCode}`);
  if (err.site !== undefined) facts.push(`at site ${err.site}`);
  if (err.service !== undefined) facts.push(`service ${err.service}`);
  const suffix = facts.length > 0 ? ` (${facts.join(', ')})` : '';
  return `${err.code}: ${err.message}${suffix}`;
}

/** Left-aligned columns separated by two spaces; no trailing blanks. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

type Listing = SiteListing;

/**
 * The part of a listing that is the site itself: instances reached through
 * bridges (hops > 0) left out, and services known only through them.
 */
export function siteListing(list: Listing): Listing {
  const services = list.services.flatMap((service) => {
    const instances = service.instances.filter((instance) => instance.hops === 0);
    return instances.length === 0 && service.instances.length > 0
      ? []
      : [{ ...service, instances }];
  });
  return { site: list.site, services };
}

/** How many instances a listing holds. */
export function instanceCount(list: Listing): number {
  return list.services.reduce((n, service) => n + service.instances.length, 0);
}

/**
 * A listing as lines of a table, one row per instance. With `mesh`, a VIA
 * column shows the sites a call crosses to reach each instance (`b → c`).
 */
export function listingLines(list: Listing, mesh = false): string[] {
  if (list.services.length === 0) {
    return [
      mesh
        ? `no services reachable from site ${list.site}`
        : `no services registered at site ${list.site}`,
    ];
  }
  const head = ['SERVICE', 'VERSION', 'METHODS', 'INSTANCE', 'SITE', 'HOPS'];
  const rows: string[][] = [mesh ? [...head, 'VIA'] : head];
  for (const service of list.services) {
    const methods = service.methods.join(',');
    if (service.instances.length === 0) {
      rows.push([service.name, service.version, methods, '-', '-', '-']);
    }
    for (const instance of service.instances) {
      const row = [service.name, service.version, methods, instance.id, instance.site];
      row.push(String(instance.hops));
      if (mesh) row.push(instance.path.join(' → ') || '-');
      rows.push(row);
    }
  }
  return table(rows);
}

/** `CODE: message (...)` on stderr, or with `--json` the error's wire form on stdout. */
export function reportError(err: SwitchboardError, json: boolean, io: CliIo): number {
  if (json) io.stdout(`${toJson(err.toData())}\n`);
  else io.stderr(`${describeError(err)}\n`);
  return ExitCode.FAILURE;
}
