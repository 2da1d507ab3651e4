/**
 * The calls every case makes, positional and object-shaped:
 *   tiny      `add(1, 2)` → 3
 *   tiny-obj  `addObject({ a: 1, b: 2 })` → 3 (the shape of `math.add({a:1,b:2})`)
 *   1kib      `echo(s)` with a 1 KiB string that comes back (1 KiB each way)
 *   1kib-obj  `echoObject({ s })`, the same string in an object
 * Moleculer's actions take one params object either way (`params`).
 */

/** 1024 ASCII characters (1 KiB once encoded), not all alike so no codec can cheat. */
export const KIB_STRING = Array.from({ length: 1024 }, (_, i) =>
  String.fromCharCode(97 + ((i * 7) % 26)),
).join('');

export const PAYLOADS = [
  { name: 'tiny', method: 'add', args: [1, 2], params: { a: 1, b: 2 }, expect: 3 },
  {
    name: 'tiny-obj',
    method: 'addObject',
    args: [{ a: 1, b: 2 }],
    params: { a: 1, b: 2 },
    expect: 3,
  },
  {
    name: '1kib',
    method: 'echo',
    args: [KIB_STRING],
    params: { s: KIB_STRING },
    expect: KIB_STRING,
  },
  {
    name: '1kib-obj',
    method: 'echoObject',
    args: [{ s: KIB_STRING }],
    params: { s: KIB_STRING },
    expect: KIB_STRING,
  },
];

/** The handlers of every responder, by method name. */
export const METHODS = {
  add: (a, b) => a + b,
  echo: (s) => s,
  addObject: ({ a, b }) => a + b,
  echoObject: ({ s }) => s,
};

export function payloadByName(name) {
  const p = PAYLOADS.find((x) => x.name === name);
  if (!p) throw new Error(`unknown payload '${name}'`);
  return p;
}
