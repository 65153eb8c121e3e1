/**
 * Signs for the read benchmark's bulk loader on another core: receives the session
 * private keys once, then batches of signing bytes, and answers each batch with the
 * base58 signatures (the protocol's own encoder, from the built package).
 *
 * Batch: { id, keys: Uint32Array (session index per item), offsets: Uint32Array (n + 1),
 * bytes: Uint8Array (all items' signing bytes) }  ->  { id, signatures: string[] }
 */
import { sign } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { toBase58 } from "@sesame/protocol";

const keys = workerData.keys;
parentPort.on("message", (m) => {
  const signatures = new Array(m.keys.length);
  for (let i = 0; i < m.keys.length; i++) {
    const message = m.bytes.subarray(m.offsets[i], m.offsets[i + 1]);
    signatures[i] = toBase58(sign(null, message, keys[m.keys[i]]));
  }
  parentPort.postMessage({ id: m.id, signatures });
});
