import { Decoder } from '@msgpack/msgpack';
import { pooledCopy } from './byte-pool.js';
import { ErrorCode, SwitchboardError } from './errors.js';
import { StringSizingEncoder } from './msgpack-encoder.js';

/**
 * msgpack encoding with one reused encoder and decoder. `decode` never throws
 * anything but a `BAD_REQUEST` {@link SwitchboardError}.
 */
export class Codec {
  readonly #encoder = new StringSizingEncoder({ ignoreUndefined: true });
  readonly #decoder = new Decoder();

  /**
   * Encodes a value into bytes of its own (safe to hand to NATS, which sends
   * them later). Bytes for sending: up to 4 KiB they are cut from a shared
   * buffer ({@link pooledCopy}), so keeping them keeps that buffer.
   */
  encode(value: unknown): Uint8Array {
    try {
      return pooledCopy(this.#encoder.encodeSharedRef(value));
    } catch (err) {
      throw new SwitchboardError(
        ErrorCode.BAD_REQUEST,
        `cannot encode value: ${(err as Error).message}`,
        { completed: 'no', cause: err },
      );
    }
  }

  /**
   * Decodes one msgpack value; an empty body decodes to `undefined`. Binary
   * values come out as plain `Uint8Array`s, even when NATS hands us a Buffer.
   */
  decode(bytes: Uint8Array): unknown {
    if (bytes.length === 0) return undefined;
    const plain =
      bytes.constructor === Uint8Array
        ? bytes
        : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      return this.#decoder.decode(plain);
    } catch (err) {
      throw SwitchboardError.refusal(
        ErrorCode.BAD_REQUEST,
        `malformed msgpack body: ${(err as Error).message}`,
        { completed: 'no', cause: err },
      );
    }
  }
}
