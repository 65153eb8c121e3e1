import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { Ed25519Backend } from "@sesame/protocol";

/**
 * The worker: Ed25519 group-equation checks through node:crypto (OpenSSL), the same
 * call the node:crypto backend makes, with its own cache of parsed keys. It is evaluated
 * from this string (CommonJS, node built-ins only) so the pool loads the same way from
 * the built JavaScript and from TypeScript sources.
 *
 * A message carries many items packed in one transferred buffer, each as
 * [message length u32 LE][public key 32][signature 64][message]; the answer is one byte
 * per item (1 valid, 0 not).
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createPublicKey, verify } = require("node:crypto");
const SPKI = Buffer.from("302a300506032b6570032100", "hex");
const keys = new Map();
function keyFor(buf, off) {
  const id = buf.toString("latin1", off, off + 32);
  let key = keys.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI, buf.subarray(off, off + 32)]), format: "der", type: "spki" });
    if (keys.size >= 4096) keys.delete(keys.keys().next().value);
    keys.set(id, key);
  }
  return key;
}
parentPort.on("message", (m) => {
  const buf = Buffer.from(m.buffer);
  const out = new Uint8Array(m.count);
  let off = 0;
  for (let i = 0; i < m.count; i++) {
    const len = buf.readUInt32LE(off);
    const keyAt = off + 4;
    const sig = buf.subarray(keyAt + 32, keyAt + 96);
    const msg = buf.subarray(keyAt + 96, keyAt + 96 + len);
    off = keyAt + 96 + len;
    try {
      out[i] = verify(null, msg, keyFor(buf, keyAt), sig) ? 1 : 0;
    } catch {
      out[i] = 0;
    }
  }
  parentPort.postMessage({ id: m.id, out }, [out.buffer]);
});
`;

interface Item {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  readonly resolve: (valid: boolean) => void;
  readonly reject: (e: unknown) => void;
}

interface Lane {
  worker: Worker;
  /** Items sent and not answered yet. */
  load: number;
  readonly inflight: Map<number, Item[]>;
}

/** Fewer items than this per message are not worth splitting across workers. */
const MIN_CHUNK = 16;

/**
 * Ed25519 verification on worker threads. `backend` is an Ed25519Backend without
 * `verifySync`: callers (the protocol's `verifyAction`) await it, and everything they
 * ask for in one turn of the event loop goes out as one message per worker. Only the
 * group equation moves: decoding, canonical bytes, the strict-rule checks and ids stay
 * with the caller, so results are the same as with the node:crypto backend.
 */
export class VerifyPool {
  readonly #lanes: Lane[] = [];
  #pending: Item[] = [];
  #scheduled = false;
  #nextId = 1;
  #closed = false;
  readonly backend: Ed25519Backend;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error("a verify pool needs at least one worker");
    for (let i = 0; i < size; i++) this.#lanes.push(this.#spawn());
    this.backend = Object.freeze({
      name: `node:crypto on ${size} worker thread${size === 1 ? "" : "s"}`,
      verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) =>
        this.verify(publicKey, message, signature),
      // Action ids are hashed on the main thread: native SHA-256, as the node:crypto backend.
      sha256: (data: Uint8Array) => createHash("sha256").update(data).digest(),
    });
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    // The strict rule refuses other lengths before a backend is asked; keep the layout fixed.
    if (publicKey.length !== 32 || signature.length !== 64) return Promise.resolve(false);
    if (this.#closed) return Promise.reject(new Error("the verify pool is closed"));
    return new Promise<boolean>((resolve, reject) => {
      this.#pending.push({ publicKey, message, signature, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const lanes = this.#lanes.splice(0);
    for (const lane of lanes) this.#fail(lane, new Error("the verify pool is closed"));
    await Promise.all(lanes.map((l) => l.worker.terminate()));
  }

  #spawn(): Lane {
    const lane: Lane = {
      worker: new Worker(WORKER_SOURCE, { eval: true }),
      load: 0,
      inflight: new Map(),
    };
    lane.worker.unref();
    lane.worker.on("message", (m: { id: number; out: Uint8Array }) => {
      const items = lane.inflight.get(m.id);
      if (items === undefined) return;
      lane.inflight.delete(m.id);
      lane.load -= items.length;
      if (lane.load === 0) lane.worker.unref();
      for (const [i, item] of items.entries()) item.resolve(m.out[i] === 1);
    });
    const replace = (e: unknown) => {
      if (this.#closed) return;
      const i = this.#lanes.indexOf(lane);
      if (i < 0) return;
      this.#fail(lane, e);
      this.#lanes[i] = this.#spawn();
    };
    lane.worker.on("error", replace);
    lane.worker.on("exit", (code) => replace(new Error(`a verify worker exited with ${code}`)));
    return lane;
  }

  #fail(lane: Lane, e: unknown): void {
    for (const items of lane.inflight.values()) for (const item of items) item.reject(e);
    lane.inflight.clear();
    lane.load = 0;
  }

  #flush(): void {
    this.#scheduled = false;
    const items = this.#pending;
    this.#pending = [];
    if (items.length === 0) return;
    if (this.#lanes.length === 0) {
      for (const item of items) item.reject(new Error("the verify pool is closed"));
      return;
    }
    const chunks = Math.max(1, Math.min(this.#lanes.length, Math.floor(items.length / MIN_CHUNK)));
    const per = Math.ceil(items.length / chunks);
    for (let start = 0; start < items.length; start += per) {
      this.#send(items.slice(start, start + per));
    }
  }

  #send(items: Item[]): void {
    let lane = this.#lanes[0] as Lane;
    for (const l of this.#lanes) if (l.load < lane.load) lane = l;
    let size = 0;
    for (const item of items) size += 100 + item.message.length;
    const buffer = new ArrayBuffer(size);
    const bytes = new Uint8Array(buffer);
    const view = new DataView(buffer);
    let off = 0;
    for (const item of items) {
      view.setUint32(off, item.message.length, true);
      bytes.set(item.publicKey, off + 4);
      bytes.set(item.signature, off + 36);
      bytes.set(item.message, off + 100);
      off += 100 + item.message.length;
    }
    const id = this.#nextId++;
    lane.inflight.set(id, items);
    if (lane.load === 0) lane.worker.ref();
    lane.load += items.length;
    lane.worker.postMessage({ id, buffer, count: items.length }, [buffer]);
  }
}
