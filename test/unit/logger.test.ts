import { describe, expect, test } from 'vitest';
import { jsonLogger, lineLogger } from '../../src/util/logger.js';

/** The lines a logger writes. */
function capture(): { lines: string[]; write: (line: string) => void } {
  const lines: string[] = [];
  return { lines, write: (line) => lines.push(line) };
}

describe('jsonLogger', () => {
  test('logger - jsonLogger writes one JSON object per line: time, level, component, msg, fields', () => {
    const { lines, write } = capture();
    jsonLogger('broker a', 'info', write).warn('lease expired', { instance: 'calc-1', hops: 2 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(lines[0]?.trimEnd()).not.toContain('\n');
    const entry = JSON.parse(lines[0] as string);
    expect(Object.keys(entry)).toEqual(['time', 'level', 'component', 'msg', 'instance', 'hops']);
    expect(entry).toMatchObject({
      level: 'warn',
      component: 'broker a',
      msg: 'lease expired',
      instance: 'calc-1',
      hops: 2,
    });
    expect(new Date(entry.time).toISOString()).toBe(entry.time);
  });

  test('logger - jsonLogger drops entries below its level', () => {
    const { lines, write } = capture();
    const logger = jsonLogger('x', 'warn', write);
    logger.debug('a');
    logger.info('b');
    logger.warn('c');
    logger.error('d');
    expect(lines.map((line) => JSON.parse(line).level)).toEqual(['warn', 'error']);
    jsonLogger('x', 'silent', write).error('e');
    expect(lines).toHaveLength(2);
  });

  test('logger - jsonLogger keeps a field named like a key of its own, under _name', () => {
    const { lines, write } = capture();
    jsonLogger('x', 'debug', write).info('real', { msg: 'field', level: 1 });
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      msg: 'real',
      level: 'info',
      _msg: 'field',
      _level: 1,
    });
  });

  test('logger - jsonLogger writes errors, big integers and cycles without throwing', () => {
    const { lines, write } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const logger = jsonLogger('x', 'debug', write);
    logger.error('failed', { err: new RangeError('too far'), big: 2n ** 70n });
    logger.error('cycle', { cyclic, n: 1 });
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      err: { name: 'RangeError', message: 'too far' },
      big: '1180591620717411303424',
    });
    expect(JSON.parse(lines[1] as string)).toMatchObject({
      msg: 'cycle',
      cyclic: '[object Object]',
      n: 1,
    });
  });
});

describe('lineLogger', () => {
  test('logger - lineLogger writes TIME LEVEL component: message key=value', () => {
    const { lines, write } = capture();
    lineLogger('bridge', 'info', write).info('linked', { site: 'a', path: ['a', 'b'], big: 1n });
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\S+Z INFO bridge: linked site=a path=\["a","b"\] big="1"\n$/,
    );
  });
});

describe('logger - forged lines', () => {
  test('logger - lineLogger writes a CR, LF or other control character as an escape', () => {
    const lines: string[] = [];
    const logger = lineLogger('broker', 'info', (line) => lines.push(line));
    logger.warn("rejected 'x\nFAKE ERROR broker: pwned'", { subject: 'a\r\nb' });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.split('\n')).toHaveLength(2);
    expect(lines[0]).toContain("rejected 'x\\x0aFAKE ERROR broker: pwned' subject=a\\x0d\\x0ab");
  });
});
