/**
 * A bare NATS client over a TCP socket, for tests that must send what no
 * well-behaved client library would: header blocks with a lone LF, subjects
 * with spaces, bytes that are not UTF-8. It can subscribe to count what
 * comes back (the header block and payload of each message, raw).
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** A message as received: its subject, raw header block (if any) and payload. */
export interface RawMessage {
  subject: string;
  headers: string;
  payload: Buffer;
}

export interface RawNats {
  /** Publishes `payload` with a raw header block (`NATS/1.0\r\n...\r\n\r\n`, written as given). */
  hpub(subject: string, headerBlock: string | Buffer, payload: Uint8Array, reply?: string): void;
  /** Publishes `payload` without headers. */
  pub(subject: string, payload: Uint8Array, reply?: string): void;
  /** Calls `onMessage` for every message on `subject` (wildcards allowed). */
  sub(subject: string, onMessage: (msg: RawMessage) => void): void;
  /** Resolves once the server has processed everything sent so far. */
  flush(): Promise<void>;
  /** Error lines (`-ERR ...`) the server sent. */
  readonly errors: string[];
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');

/** Connects to `url` (nats://host:port) with headers enabled. */
export async function rawNats(url: string): Promise<RawNats> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let buffered = Buffer.alloc(0);
  const pongs: Array<() => void> = [];
  const handlers = new Map<number, (msg: RawMessage) => void>();
  const errors: string[] = [];
  let sids = 0;

  /** Handles one protocol line, or a message whose body has fully arrived; returns bytes used, 0 if waiting. */
  const consume = (): number => {
    const end = buffered.indexOf(CRLF);
    if (end < 0) return 0;
    const line = buffered.toString('latin1', 0, end);
    const [op, ...args] = line.split(' ');
    if (op === 'MSG' || op === 'HMSG') {
      const sizes = args.slice(op === 'MSG' ? -1 : -2).map(Number);
      const total = sizes.at(-1) ?? 0;
      const headerLength = op === 'HMSG' ? (sizes[0] ?? 0) : 0;
      const start = end + 2;
      if (buffered.length < start + total + 2) return 0;
      const body = buffered.subarray(start, start + total);
      handlers.get(Number(args[1]))?.({
        subject: args[0] ?? '',
        headers: body.toString('latin1', 0, headerLength),
        payload: Buffer.from(body.subarray(headerLength)),
      });
      return start + total + 2;
    }
    if (op === 'PONG') pongs.shift()?.();
    else if (op === 'PING') socket.write('PONG\r\n');
    else if (op === '-ERR') errors.push(line);
    return end + 2;
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let used = consume(); used > 0; used = consume()) buffered = buffered.subarray(used);
  });
  const connectOptions = { verbose: false, pedantic: false, headers: true, protocol: 1 };
  socket.write(`CONNECT ${JSON.stringify(connectOptions)}\r\n`);
  const flush = () =>
    new Promise<void>((resolve) => {
      pongs.push(resolve);
      socket.write('PING\r\n');
    });
  await flush();
  const write = (head: string, ...parts: Buffer[]) => {
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), ...parts, CRLF]));
  };
  return {
    hpub(subject, headerBlock, payload, reply) {
      const head =
        typeof headerBlock === 'string' ? Buffer.from(headerBlock, 'latin1') : headerBlock;
      const total = head.length + payload.length;
      const replyPart = reply ? `${reply} ` : '';
      write(`HPUB ${subject} ${replyPart}${head.length} ${total}\r\n`, head, Buffer.from(payload));
    },
    pub(subject, payload, reply) {
      const replyPart = reply ? `${reply} ` : '';
      write(`PUB ${subject} ${replyPart}${payload.length}\r\n`, Buffer.from(payload));
    },
    sub(subject, onMessage) {
      const sid = ++sids;
      handlers.set(sid, onMessage);
      socket.write(`SUB ${subject} ${sid}\r\n`);
    },
    flush,
    errors,
    async close() {
      socket.end();
      if (!socket.closed) await once(socket, 'close');
    },
  };
}
