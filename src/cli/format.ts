import { ErrorCode, type ListReply, SwitchboardError } from '../index.js';
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

/** A registry listing as lines of a table: one row per instance. */
export function listingLines(list: Pick<ListReply, 'site' | 'services'>): string[] {
  if (list.services.length === 0) return [`no services registered at site ${list.site}`];
  // Remote instances (reached through bridges) show the sites a call crosses.
  const remote = list.services.some((s) => s.instances.some((i) => i.path.length > 0));
  const head = ['SERVICE', 'VERSION', 'METHODS', 'INSTANCE', 'SITE', 'HOPS'];
  const rows: string[][] = [remote ? [...head, 'VIA'] : head];
  for (const service of list.services) {
    const methods = service.methods.join(',');
    if (service.instances.length === 0) {
      rows.push([service.name, service.version, methods, '-', '-', '-']);
    }
    for (const instance of service.instances) {
      const row = [service.name, service.version, methods, instance.id, instance.site];
      row.push(String(instance.hops));
      if (remote) row.push(instance.path.join(' > ') || '-');
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
