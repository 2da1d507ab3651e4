/**
 * Asks every endpoint on the site's NATS for its `$SRV.STATS` and collects
 * the replies that come within a short wait. Not through the nats.js
 * services client: it ends the whole collection at the first reply that is
 * not JSON, and anything on the NATS may answer these requests.
 */
import { Empty, type Msg, type NatsConnection, RequestStrategy } from 'nats';
import { checkStatsReply, type StatsReply } from './stats-reply.js';

/** Replies read per look at most (each is one instance or route). */
const MAX_REPLIES = 10_000;
/** Larger replies are skipped unread. */
const MAX_REPLY_BYTES = 256 * 1024;

const decoder = new TextDecoder();

/**
 * The stats replies of the site's endpoints: collected until none has come
 * for a moment, or `maxWaitMs` has passed. None when nothing answers.
 */
export async function readStats(nc: NatsConnection, maxWaitMs: number): Promise<StatsReply[]> {
  const replies: StatsReply[] = [];
  let messages: AsyncIterable<Msg>;
  try {
    messages = await nc.requestMany('$SRV.STATS', Empty, {
      strategy: RequestStrategy.JitterTimer,
      maxWait: maxWaitMs,
    });
  } catch {
    return replies;
  }
  try {
    // Read to the end even past the bound: the iterator cleans up when it ends.
    for await (const msg of messages) {
      if (replies.length >= MAX_REPLIES || msg.data.length > MAX_REPLY_BYTES) continue;
      const reply = checkStatsReply(parseJson(msg.data));
      if (reply) replies.push(reply);
    }
  } catch {
    // No responders, or the connection went: what came is all there is.
  }
  return replies;
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}
