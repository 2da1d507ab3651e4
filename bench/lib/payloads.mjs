/**
 * The two calls every case makes: `add(1, 2)` (tiny) and `echo(s)` with a
 * 1 KiB string that comes back as the result (1 KiB each way).
 */

/** 1024 ASCII characters (1 KiB once encoded), not all alike so no codec can cheat. */
export const KIB_STRING = Array.from({ length: 1024 }, (_, i) =>
  String.fromCharCode(97 + ((i * 7) % 26)),
).join('');

export const PAYLOADS = [
  { name: 'tiny', method: 'add', args: [1, 2], expect: 3 },
  { name: '1kib', method: 'echo', args: [KIB_STRING], expect: KIB_STRING },
];

export function payloadByName(name) {
  const p = PAYLOADS.find((x) => x.name === name);
  if (!p) throw new Error(`unknown payload '${name}'`);
  return p;
}
