/**
 * Worker of the memory phase: rebuilds a broker's registry from its
 * registrations (msgpack, as the broker got them) in copies, in an isolate
 * of its own whose heap holds nothing else, and posts the heap they added
 * per copy. The mesh's own heap (hundreds of MiB at a hub of 100, with
 * timers and buffers coming and going) would drown the figure.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { Codec, type InstanceRegistration, Registry } from '../../src/internal.js';
import { settledHeapBytes } from '../stats.js';

/** What the memory phase hands the worker. */
export interface RegistryHeapJob {
  site: string;
  /** The registrations, msgpack-encoded. */
  wire: Uint8Array;
  copies: number;
}

/** This isolate's heap in use, whatever the other threads of the process hold. */
const isolateHeap = (): number => getHeapStatistics().used_heap_size;

async function measure({ site, wire, copies }: RegistryHeapJob): Promise<number | undefined> {
  const codec = new Codec();
  // One replica built and dropped first: code compiled and caches filled are not counted.
  const warm = new Registry({ site });
  for (const reg of codec.decode(wire) as InstanceRegistration[]) warm.register(reg);
  const h0 = await settledHeapBytes(isolateHeap);
  if (h0 === undefined) return undefined;
  const replicas: Registry[] = [];
  for (let i = 0; i < copies; i++) {
    const replica = new Registry({ site });
    for (const reg of codec.decode(wire) as InstanceRegistration[]) replica.register(reg);
    replicas.push(replica);
  }
  const h1 = await settledHeapBytes(isolateHeap);
  return h1 === undefined ? undefined : (h1 - h0) / replicas.length;
}

if (parentPort) {
  const port = parentPort;
  void measure(workerData as RegistryHeapJob).then((bytes) => port.postMessage(bytes ?? null));
}
