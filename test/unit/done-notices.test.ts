/**
 * Done notices of forwarded calls, gathered per turn of the event loop: one
 * message per broker inbox, split where it would grow long.
 */
import type { NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import { DoneNotices } from '../../src/transport/done-notices.js';

function open(closed = false) {
  const published: Array<{ subject: string; text: string }> = [];
  const nc = {
    publish: (subject: string, data: Uint8Array) =>
      published.push({ subject, text: Buffer.from(data).toString() }),
    isClosed: () => closed,
  };
  return { published, notices: new DoneNotices(nc as unknown as NatsConnection) };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('done notices', () => {
  test('done notices - the calls that end in one turn go as one batch per inbox; a long batch is split, no token lost', async () => {
    const { published, notices } = open();
    const tokens = Array.from({ length: 600 }, (_, i) => `tok${String(i).padStart(6, '0')}`);
    for (const token of tokens) expect(notices.add(`_INBOX.b1.${token}`)).toBe(true);
    expect(notices.add('_INBOX.other.x.y')).toBe(true);
    expect(published).toHaveLength(0);
    await nextTurn();
    const toB1 = published.filter((p) => p.subject === '_INBOX.b1.~done');
    expect(toB1.length).toBeGreaterThan(1);
    for (const { text } of toB1) expect(text.length).toBeLessThanOrEqual(2048);
    expect(toB1.flatMap(({ text }) => text.split(' '))).toEqual(tokens);
    expect(published.filter((p) => p.subject !== '_INBOX.b1.~done')).toEqual([
      { subject: '_INBOX.other.x.~done', text: 'y' },
    ]);
    await nextTurn();
    expect(published).toHaveLength(toB1.length + 1);
  });

  test('done notices - a reply subject that is not an inbox with a token is not taken; nothing is sent on a closed connection', async () => {
    for (const reply of [
      'reply.to.me',
      '_INBOX.',
      '_INBOX.abc',
      'x_INBOX.a.b',
      '_INBOX.*.t1',
      '_INBOX.>.t1',
      '_INBOX.b1.t~1',
      `_INBOX.${'b'.repeat(300)}.t1`,
    ]) {
      expect(open().notices.add(reply)).toBe(false);
    }
    const { published, notices } = open(true);
    expect(notices.add('_INBOX.b1.t1')).toBe(true);
    await nextTurn();
    expect(published).toHaveLength(0);
  });

  test('done notices - a batch leaves before what the process does on a later turn (a probe answer), and before a close that follows the answers', async () => {
    let closed = false;
    const published: string[] = [];
    const nc = {
      publish: (subject: string) => published.push(subject),
      isClosed: () => closed,
    } as unknown as NatsConnection;
    const notices = new DoneNotices(nc);
    setImmediate(() => published.push('probe answer'));
    notices.add('_INBOX.b1.t1');
    // A close awaited after the answers: it comes a few microtasks later.
    await null;
    closed = true;
    await nextTurn();
    expect(published).toEqual(['_INBOX.b1.~done', 'probe answer']);
  });
});
