import { randomUUID } from "node:crypto";
import {
  type EquivocationProof,
  type ErrorBody,
  ErrorCode,
  grantIdOfText,
  isProtocolError,
  ProtocolError,
  type SignedGrant,
  type SignedRevocation,
} from "@sesame/protocol";
import { sql } from "kysely";
import type { NodeContext } from "./context.js";
import { registerGrant } from "./grants.js";
import { type ItemResult, PEER_LATE_GRACE_MS } from "./ingest.js";
import { submitEquivocation, submitRevocation } from "./revocations.js";

/** How a node federates: whom it pulls, how often, and how it treats a misbehaving peer. */
export interface FederationOptions {
  /** Base URLs of the peers (`http://host:port`). */
  readonly peers: readonly string[];
  /** Pull each peer at least this often, ms (default 1000). */
  readonly intervalMs?: number;
  /** Items asked for per page (default 1000, at most 5000). */
  readonly pageSize?: number;
  /** Longest backoff after failures or refused messages, ms (default 30 s). */
  readonly maxBackoffMs?: number;
  /** Longest a message refused for a passing reason is retried, ms (default 10 min). */
  readonly deferLimitMs?: number;
  /** Most deferred messages kept per peer; past it the cursor waits (default 1000). */
  readonly maxDeferred?: number;
  /** Listen to each peer's live stream and pull as soon as it has news (default true). */
  readonly nudge?: boolean;
  /** Late grace for a peer's grants and actions, ms (default `PEER_LATE_GRACE_MS`). */
  readonly lateGraceMs?: number;
  /** Where refusals and backoffs are reported, one line each (default stderr). */
  readonly log?: (line: string) => void;
  /** Largest sync page accepted, bytes (default 64 MiB). */
  readonly maxPageBytes?: number;
  /** Per-request timeout, ms (default 30 s). */
  readonly requestTimeoutMs?: number;
}

/** One peer's state as `GET /v1/peers` reports it. */
export interface PeerStatus {
  readonly url: string;
  /** The peer's log id up to which this node has applied everything. */
  readonly cursor: number;
  /** The peer's newest log id, as of the last page. */
  readonly head: number;
  readonly lag: number;
  readonly pulled: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly refused: number;
  readonly refusedByCode: Readonly<Record<string, number>>;
  readonly deferred: number;
  readonly failures: number;
  readonly backoffUntil: number;
  readonly lastPullAt: number | null;
  readonly lastOkAt: number | null;
  readonly lastError: string | null;
  /** Pull rounds this process has completed for the peer since it started. */
  readonly rounds: number;
  /** Set at start (`SESAME_PEERS`, `createNode({ peers })`), not added through the API. */
  readonly configured: boolean;
}

type ItemType = "grant" | "action" | "revocation" | "equivocation";

interface SyncItem {
  readonly logId: number;
  readonly type: ItemType;
  readonly message: unknown;
}

interface Page {
  readonly items: readonly SyncItem[];
  readonly next: number;
  readonly head: number;
}

/** The outcome of applying one peer message here. */
type Outcome =
  | { readonly kind: "accepted" }
  | { readonly kind: "duplicate" }
  | { readonly kind: "refused" | "deferred"; readonly code: number; readonly error: ErrorBody };

/**
 * Refusals that can pass with time, for messages whose signature has verified: a
 * timestamp or issue time ahead of this node's clock, a tip (or funded grant) whose
 * transaction this node's chain does not show yet, a tip whose post has not arrived.
 */
function isPassing(error: ErrorBody): boolean {
  switch (error.code) {
    case ErrorCode.TIMESTAMP_IN_FUTURE:
    case ErrorCode.GRANT_ISSUED_IN_FUTURE:
    case ErrorCode.TIP_NOT_ON_CHAIN:
    case ErrorCode.UNAVAILABLE:
      return true;
    case ErrorCode.TIP_MISMATCH:
      return (error.context as { field?: unknown }).field === "post";
    default:
      return false;
  }
}

/**
 * Refusals an honest peer never causes: it would have refused the message itself.
 * (Not so for a revoked or expired session, an equivocation, an unknown grant or a grant
 * revoked here first: those follow from the order messages reach different nodes.)
 */
const MISBEHAVIOUR = new Set<number>([
  ErrorCode.BAD_SIGNATURE,
  ErrorCode.NON_CANONICAL_SIGNATURE,
  ErrorCode.SMALL_ORDER_PUBLIC_KEY,
  ErrorCode.NON_CANONICAL_PUBLIC_KEY,
  ErrorCode.GRANT_TEXT_MALFORMED,
  ErrorCode.GRANT_DOMAIN_MISMATCH,
  ErrorCode.GRANT_CHAIN_MISMATCH,
  ErrorCode.GRANT_NETWORK_MISMATCH,
  ErrorCode.GRANT_LIFETIME_TOO_LONG,
  ErrorCode.GRANT_NONCE_TOO_SHORT,
  ErrorCode.GRANT_LIMITS_INVALID,
  ErrorCode.GRANT_MEMO_MISMATCH,
  ErrorCode.SCOPE_NOT_GRANTED,
  ErrorCode.OVER_CAP,
  ErrorCode.OUTSIDE_WINDOW,
  ErrorCode.WRONG_GRANT,
  ErrorCode.REVOCATION_MALFORMED,
  ErrorCode.REVOCATION_WALLET_MISMATCH,
  ErrorCode.EQUIVOCATION_PROOF_INVALID,
  ErrorCode.PEER_UNREACHABLE,
  ErrorCode.PEER_RESPONSE_INVALID,
]);

const isMisbehaviour = (code: number) => MISBEHAVIOUR.has(code) || (code >= 1001 && code < 2000);

/** Shortest time from one round's start to the next, unless `syncNow` asks. */
const MIN_GAP_MS = 100;

const TYPES: ReadonlySet<string> = new Set(["grant", "action", "revocation", "equivocation"]);

/** Normalises a peer URL (no trailing slash); refuses anything but http(s). */
export function peerUrl(raw: string): string {
  const u = new URL(raw.trim());
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new Error(`peer ${raw}: only http and https`);
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
}

/** `SESAME_PEERS`: comma- or space-separated URLs. */
export function parsePeers(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [
    ...new Set(
      value
        .split(/[\s,]+/)
        .filter((s) => s !== "")
        .map(peerUrl),
    ),
  ];
}

/**
 * The header `GET /v1/sync` carries with the serving process's instance id: a node that
 * sees its own id there is pulling itself (its own URL, or another name for it, among its
 * peers) and stops pulling that URL.
 */
export const INSTANCE_HEADER = "sesame-instance";

/** Thrown when a peer URL turns out to be this node process itself, or a peer pulled already. */
class SelfPeer extends Error {}

const SELF_PEER = "this is the node itself (its own URL, or another name for it): not pulled";

function pageError(peer: string, reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.PEER_RESPONSE_INVALID, { peer, reason });
}

/** Checks a page's shape; every message inside is verified later, one by one. */
function parsePage(peer: string, text: string, after: number): Page {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw pageError(peer, "not JSON");
  }
  if (typeof body !== "object" || body === null) throw pageError(peer, "not an object");
  const { items, next, head } = body as { items?: unknown; next?: unknown; head?: unknown };
  if (!Array.isArray(items)) throw pageError(peer, "items is not an array");
  const nextNum = typeof next === "string" && /^[0-9]{1,16}$/.test(next) ? Number(next) : NaN;
  if (!Number.isSafeInteger(nextNum) || nextNum < after)
    throw pageError(peer, "next is not a cursor at or after the one asked for");
  if (typeof head !== "number" || !Number.isSafeInteger(head) || head < 0)
    throw pageError(peer, "head is not a log id");
  let last = after;
  const out: SyncItem[] = [];
  for (const item of items) {
    const i = item as { logId?: unknown; type?: unknown; message?: unknown } | null;
    if (
      typeof i !== "object" ||
      i === null ||
      typeof i.logId !== "number" ||
      !Number.isSafeInteger(i.logId) ||
      i.logId <= last ||
      i.logId > nextNum ||
      typeof i.type !== "string" ||
      !TYPES.has(i.type) ||
      typeof i.message !== "object" ||
      i.message === null
    ) {
      throw pageError(peer, `item ${out.length} is not {logId, type, message} in log order`);
    }
    last = i.logId;
    out.push({ logId: i.logId, type: i.type as ItemType, message: i.message });
  }
  return { items: out, next: nextNum, head };
}

async function readLimited(res: Response, max: number, peer: string): Promise<string> {
  const reader = res.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw pageError(peer, `larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** What a node needs from its context to apply a peer's messages. */
export type FederationContext = Omit<NodeContext, "federation">;

interface PeerLoop {
  readonly url: string;
  /** Aborted to wake the loop early (a nudge, `syncNow`, or close). */
  wake: AbortController;
  /** Aborted by `syncNow` and close only: these also cut a backoff short. */
  force: AbortController;
  running: Promise<void>;
  /** Resolvers waiting for the next completed round. */
  waiters: (() => void)[];
  stream: AbortController | undefined;
  /** Rounds completed since this process started pulling the peer. */
  rounds: number;
  /** Set when the peer is removed: the loop and its stream end. */
  stopped: boolean;
}

interface RoundCounts {
  pulled: number;
  accepted: number;
  duplicates: number;
  refused: number;
  byCode: Map<number, number>;
  misbehaved: boolean;
}

/**
 * Pulls every peer's log by cursor and applies each message through the same paths as a
 * client's write: grants through `registerGrant`, actions through the ingest queue
 * (group commit, the policy engine), revocations and equivocation proofs through their
 * own. Nothing is trusted because a peer sent it. The cursor per peer is stored after the
 * messages before it are committed, so a crash repeats at most one page (duplicates).
 */
export class Federation {
  readonly #ctx: FederationContext;
  readonly #intervalMs: number;
  readonly #pageSize: number;
  readonly #maxBackoffMs: number;
  readonly #deferLimitMs: number;
  readonly #maxDeferred: number;
  readonly #nudge: boolean;
  readonly #lateGraceMs: number;
  readonly #log: (line: string) => void;
  readonly #maxPageBytes: number;
  readonly #timeoutMs: number;
  readonly #loops = new Map<string, PeerLoop>();
  /** The peers the node was started with; the others were added through `addPeer`. */
  readonly #configured: ReadonlySet<string>;
  #started = false;
  #closed = false;
  /** Aborts requests in flight when the node closes. */
  readonly #closing = new AbortController();
  /** This process's id, served in `INSTANCE_HEADER` so the node recognises itself. */
  readonly instance: string = randomUUID();
  /** Each peer process's instance id, and the URL it is pulled by. */
  readonly #instances = new Map<string, string>();

  constructor(ctx: FederationContext, options: FederationOptions) {
    this.#ctx = ctx;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#pageSize = Math.min(5000, Math.max(1, options.pageSize ?? 1000));
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.#deferLimitMs = options.deferLimitMs ?? 10 * 60_000;
    this.#maxDeferred = options.maxDeferred ?? 1000;
    this.#nudge = options.nudge ?? true;
    this.#lateGraceMs = options.lateGraceMs ?? PEER_LATE_GRACE_MS;
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#maxPageBytes = options.maxPageBytes ?? 64 * 1024 * 1024;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    const configured = options.peers.map(peerUrl);
    this.#configured = new Set(configured);
    for (const url of configured) this.#loops.set(url, newLoop(url));
    const m = ctx.metrics;
    m.describe("sesame_sync_pulled_total", "Messages pulled from peers, by peer");
    m.describe("sesame_sync_accepted_total", "Peer messages newly stored, by peer and type");
    m.describe("sesame_sync_duplicates_total", "Peer messages already stored here, by peer");
    m.describe("sesame_sync_refused_total", "Peer messages refused, by peer and error code");
    m.describe("sesame_sync_deferred_total", "Peer messages deferred for retry, by peer and code");
    m.describe("sesame_sync_backoffs_total", "Times a peer was backed off, by peer");
    m.describe("sesame_sync_rounds_total", "Pull rounds completed, by peer");
  }

  get peers(): readonly string[] {
    return [...this.#loops.keys()];
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /**
   * Registers the configured peers (keeping stored cursors), adds those added through the
   * API before (stored with `added`), and starts pulling each.
   */
  async start(): Promise<void> {
    const db = this.#ctx.storage.db;
    if (this.#loops.size > 0)
      await db
        .insertInto("peers")
        .values([...this.#loops.keys()].map((url) => ({ url })))
        .onConflict((oc) => oc.column("url").doNothing())
        .execute();
    const added = await db.selectFrom("peers").select("url").where("added", "=", true).execute();
    for (const { url } of added) if (!this.#loops.has(url)) this.#loops.set(url, newLoop(url));
    this.#started = true;
    for (const loop of this.#loops.values()) this.#begin(loop);
  }

  #begin(loop: PeerLoop): void {
    loop.running = this.#run(loop);
    if (this.#nudge) this.#listen(loop);
  }

  /**
   * Adds a peer at run time, stored so a restart keeps pulling it (`POST /v1/peers`).
   * Resolves false when the node already pulls it. A peer removed before resumes from
   * its stored cursor.
   */
  async addPeer(raw: string): Promise<boolean> {
    const url = peerUrl(raw);
    if (this.#loops.has(url)) return false;
    if (await this.#isSelf(url))
      throw new ProtocolError(ErrorCode.INVALID_FIELD, {
        field: "url",
        reason: "this is the node's own URL: a node does not pull itself",
      });
    await this.#ctx.storage.db
      .insertInto("peers")
      .values({ url, added: true })
      .onConflict((oc) => oc.column("url").doUpdateSet({ added: true }))
      .execute();
    // Another request may have added it while this one wrote.
    if (this.#loops.has(url) || this.#closed) return false;
    const loop = newLoop(url);
    this.#loops.set(url, loop);
    if (this.#started) this.#begin(loop);
    return true;
  }

  /** Whether `url` answers with this process's instance id (unreachable: not known, false). */
  async #isSelf(url: string): Promise<boolean> {
    try {
      const res = await fetch(`${url}/v1/sync?after=0&limit=1`, {
        signal: AbortSignal.any([AbortSignal.timeout(5000), this.#closing.signal]),
      });
      await res.body?.cancel();
      return res.headers.get(INSTANCE_HEADER) === this.instance;
    } catch {
      return false;
    }
  }

  /**
   * Stops pulling a peer added through `addPeer` and forgets it across restarts (its
   * cursor is kept, should it be added again). A configured peer cannot be removed here
   * (`1002`: it comes back at the next start); an unknown one is `6001`.
   */
  async removePeer(raw: string): Promise<void> {
    const url = peerUrl(raw);
    if (this.#configured.has(url))
      throw new ProtocolError(ErrorCode.INVALID_FIELD, {
        field: "url",
        reason: "this peer is configured (SESAME_PEERS or --peer); remove it there and restart",
      });
    const loop = this.#loops.get(url);
    if (loop === undefined) throw new ProtocolError(ErrorCode.NOT_FOUND, { what: `peer ${url}` });
    this.#loops.delete(url);
    await this.#ctx.storage.db
      .updateTable("peers")
      .set({ added: false })
      .where("url", "=", url)
      .execute();
    loop.stopped = true;
    loop.stream?.abort();
    loop.wake.abort();
    loop.force.abort();
    await loop.running;
  }

  /**
   * Wakes every peer's loop now; resolves when each has finished one more round. A peer
   * backed off for misbehaving is skipped (it waits its turn) unless `cutBackoff`, which
   * only the node's operator may ask for: a stranger must not be able to make this node
   * hammer a bad peer.
   */
  async syncNow(options: { readonly cutBackoff?: boolean } = {}): Promise<void> {
    const now = Date.now();
    const backedOff = new Set<string>();
    if (options.cutBackoff !== true) {
      const rows = await this.#ctx.storage.db
        .selectFrom("peers")
        .select(["url", "backoff_until"])
        .execute();
      for (const r of rows) if (Number(r.backoff_until ?? 0) > now) backedOff.add(r.url);
    }
    await Promise.all(
      [...this.#loops.values()]
        .filter((loop) => !backedOff.has(loop.url) && !loop.stopped)
        .map(
          (loop) =>
            new Promise<void>((resolve) => {
              loop.waiters.push(resolve);
              loop.wake.abort();
              loop.force.abort();
            }),
        ),
    );
  }

  async status(): Promise<PeerStatus[]> {
    const rows = await this.#ctx.storage.db
      .selectFrom("peers")
      .selectAll()
      .where("url", "in", [...this.#loops.keys(), ""])
      .orderBy("url")
      .execute();
    const deferred = await this.#ctx.storage.db
      .selectFrom("peer_deferred")
      .select(["peer", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy("peer")
      .execute();
    const deferredBy = new Map(deferred.map((d) => [d.peer, Number(d.n)]));
    return rows.map((r) =>
      Object.freeze({
        configured: this.#configured.has(r.url),
        rounds: this.#loops.get(r.url)?.rounds ?? 0,
        url: r.url,
        cursor: r.cursor,
        head: r.head,
        lag: Math.max(0, r.head - r.cursor),
        pulled: r.pulled,
        accepted: r.accepted,
        duplicates: r.duplicates,
        refused: r.refused,
        refusedByCode: JSON.parse(r.refused_by_code) as Record<string, number>,
        deferred: deferredBy.get(r.url) ?? 0,
        failures: r.failures,
        backoffUntil: r.backoff_until,
        lastPullAt: r.last_pull_at,
        lastOkAt: r.last_ok_at,
        lastError: r.last_error,
      }),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    for (const loop of this.#loops.values()) {
      loop.stream?.abort();
      loop.wake.abort();
      loop.force.abort();
    }
    await Promise.all([...this.#loops.values()].map((l) => l.running));
  }

  async #run(loop: PeerLoop): Promise<void> {
    while (!this.#closed && !loop.stopped) {
      const waiters = loop.waiters.splice(0);
      const started = Date.now();
      try {
        await this.#round(loop.url);
      } catch (e) {
        if (e instanceof SelfPeer) {
          // Dropped from the peers pulled and listed (a configured one until the next start).
          this.#log(`sync ${loop.url}: ${e.message}`);
          loop.stopped = true;
          loop.stream?.abort();
          if (this.#loops.get(loop.url) === loop) this.#loops.delete(loop.url);
        }
        // A database error (e.g. the storage closing): report it and try again later.
        else if (!this.#closed) this.#log(`sync ${loop.url}: ${(e as Error).message}`);
      }
      loop.rounds++;
      this.#ctx.metrics.inc("sesame_sync_rounds_total", { peer: loop.url });
      for (const w of waiters) w();
      if (this.#closed || loop.stopped) break;
      const row = await this.#ctx.storage.db
        .selectFrom("peers")
        .select("backoff_until")
        .where("url", "=", loop.url)
        .executeTakeFirst()
        .catch(() => undefined);
      const backoff = Math.max(0, (row?.backoff_until ?? 0) - Date.now());
      // A nudge from the peer's stream does not cut a backoff short; `syncNow` does.
      if (backoff > 0) await sleep(backoff, loop.force.signal);
      else if (!loop.wake.signal.aborted)
        // Rounds start every interval (start to start), however long a round took.
        await sleep(Math.max(0, started + this.#intervalMs - Date.now()), loop.wake.signal);
      // Nudges under a steady stream of writes: at most one round per MIN_GAP_MS, so a
      // busy peer is not asked more than ~10 times a second (its per-IP limit is per minute).
      if (!loop.force.signal.aborted && backoff === 0)
        await sleep(Math.max(0, started + MIN_GAP_MS - Date.now()), loop.force.signal);
      loop.wake = new AbortController();
      loop.force = new AbortController();
    }
    for (const w of loop.waiters.splice(0)) w();
  }

  /** Subscribes to the peer's live stream; any event wakes the loop (reconnects on loss). */
  #listen(loop: PeerLoop): void {
    void (async () => {
      // A peer whose stream keeps failing is asked less and less often (up to the backoff
      // ceiling); a stream that opened resets it.
      let failures = 0;
      while (!this.#closed && !loop.stopped) {
        const controller = new AbortController();
        loop.stream = controller;
        try {
          const res = await fetch(`${loop.url}/v1/stream`, {
            headers: { accept: "text/event-stream" },
            signal: controller.signal,
          });
          const reader = res.ok ? res.body?.getReader() : undefined;
          if (reader === undefined) failures++;
          else {
            failures = 0;
            const decoder = new TextDecoder();
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              if (decoder.decode(value, { stream: true }).includes("\ndata:")) loop.wake.abort();
            }
          }
        } catch {
          // Unreachable or closed: pulling goes on at the interval; reconnect below.
          failures++;
        }
        if (this.#closed || loop.stopped) return;
        const wait = Math.max(this.#intervalMs, 1000) * 2 ** Math.min(failures, 16);
        await sleep(Math.min(wait, Math.max(this.#maxBackoffMs, 1000)), this.#closing.signal);
      }
    })();
  }

  async #fetchPage(peer: string, after: number): Promise<Page> {
    let res: Response;
    try {
      res = await fetch(`${peer}/v1/sync?after=${after}&limit=${this.#pageSize}`, {
        signal: AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#closing.signal]),
      });
    } catch (e) {
      throw new ProtocolError(ErrorCode.PEER_UNREACHABLE, {
        peer,
        reason: (e as Error).message,
      });
    }
    const instance = res.headers.get(INSTANCE_HEADER);
    if (instance === this.instance) {
      await res.body?.cancel();
      throw new SelfPeer(SELF_PEER);
    }
    if (instance !== null) {
      const owner = this.#instances.get(instance);
      if (owner === undefined || !this.#loops.has(owner)) this.#instances.set(instance, peer);
      else if (owner !== peer) {
        await res.body?.cancel();
        throw new SelfPeer(`the same node as ${owner}, pulled already: not pulled twice`);
      }
    }
    let text: string;
    try {
      text = await readLimited(res, this.#maxPageBytes, peer);
    } catch (e) {
      if (isProtocolError(e)) throw e;
      throw new ProtocolError(ErrorCode.PEER_UNREACHABLE, {
        peer,
        reason: (e as Error).message,
      });
    }
    if (res.status !== 200) throw pageError(peer, `HTTP ${res.status}`);
    return parsePage(peer, text, after);
  }

  /** One round for one peer: retry what was deferred, then pull pages until caught up. */
  async #round(peer: string): Promise<void> {
    const db = this.#ctx.storage.db;
    const counts: RoundCounts = {
      pulled: 0,
      accepted: 0,
      duplicates: 0,
      refused: 0,
      byCode: new Map(),
      misbehaved: false,
    };
    const row = await db
      .selectFrom("peers")
      .select(["cursor", "failures"])
      .where("url", "=", peer)
      .executeTakeFirstOrThrow();
    let cursor = row.cursor;
    let failure: ProtocolError | undefined;
    let head = -1;
    await this.#retryDeferred(peer, counts);
    // Applied but not yet settled (its cursor not yet stored): at most one page, so a page
    // of plain actions verifies while the one before it commits.
    let inFlight: { page: Page; applied: Promise<number | undefined> } | undefined;
    /** Waits for a page to be applied and stores the cursor; true when the round stops. */
    const settle = async (p: { page: Page; applied: Promise<number | undefined> }) => {
      const stopAt = await p.applied;
      cursor = stopAt !== undefined ? Math.max(cursor, stopAt) : p.page.next;
      await this.#saveCursor(peer, cursor, head, counts);
      return stopAt !== undefined;
    };
    try {
      let pending: Promise<Page> | undefined = this.#fetchPage(peer, cursor);
      // Pages are fetched one ahead: the next one downloads while this one is applied.
      for (let pages = 0; pending !== undefined && !this.#closed; pages++) {
        const page: Page = await pending;
        pending = undefined;
        head = page.head;
        const caughtUp = page.next >= page.head || page.items.length === 0;
        if (!caughtUp && pages < 1000) pending = this.#fetchPage(peer, page.next);
        pending?.catch(() => {});
        // Anything but plain actions (a grant, a tip, a revocation...) waits for the page
        // before it, so what it depends on is committed first.
        if (inFlight !== undefined && !(isPlain(inFlight.page) && isPlain(page))) {
          const done = inFlight;
          inFlight = undefined;
          if (await settle(done)) break;
        }
        const applied = this.#applyPage(peer, page, counts);
        applied.catch(() => {});
        const before = inFlight;
        inFlight = { page, applied };
        if (before !== undefined && (await settle(before))) {
          // The round stops at `before`; the page started meanwhile is idempotent.
          await applied.catch(() => undefined);
          inFlight = undefined;
          break;
        }
      }
      if (inFlight !== undefined) await settle(inFlight);
    } catch (e) {
      // A page still being applied finishes first, and its cursor is stored when it could
      // be applied (a failure on the next page does not undo it).
      if (inFlight !== undefined) await settle(inFlight).catch(() => undefined);
      if (this.#closed) return; // cut short by close(), not the peer's doing
      if (e instanceof SelfPeer) throw e;
      if (!isProtocolError(e)) throw e;
      failure = e;
      counts.byCode.set(e.code, (counts.byCode.get(e.code) ?? 0) + 1);
      counts.misbehaved = true;
      this.#ctx.metrics.inc("sesame_sync_refused_total", { peer, code: String(e.code) });
    }
    await this.#finishRound(peer, counts, row.failures, failure);
  }

  /** Stores the cursor after a committed page, with the counts so far (then zeroed). */
  async #saveCursor(
    peer: string,
    cursor: number,
    head: number,
    counts: RoundCounts,
  ): Promise<void> {
    await this.#ctx.storage.db
      .updateTable("peers")
      .set((eb) => ({
        cursor: sql<number>`greatest(cursor, ${cursor}::int8)`,
        head: Math.max(head, 0),
        pulled: eb("pulled", "+", counts.pulled),
        accepted: eb("accepted", "+", counts.accepted),
        duplicates: eb("duplicates", "+", counts.duplicates),
        refused: eb("refused", "+", counts.refused),
      }))
      .where("url", "=", peer)
      .execute();
    counts.pulled = 0;
    counts.accepted = 0;
    counts.duplicates = 0;
    counts.refused = 0;
  }

  async #finishRound(
    peer: string,
    counts: RoundCounts,
    failures: number,
    failure: ProtocolError | undefined,
  ): Promise<void> {
    const db = this.#ctx.storage.db;
    const now = Date.now();
    const bad = counts.misbehaved;
    const nextFailures = bad ? failures + 1 : 0;
    const backoff = bad
      ? Math.min(this.#maxBackoffMs, this.#intervalMs * 2 ** Math.min(nextFailures, 20))
      : 0;
    const stored = await db
      .selectFrom("peers")
      .select("refused_by_code")
      .where("url", "=", peer)
      .executeTakeFirst();
    const byCode = JSON.parse(stored?.refused_by_code ?? "{}") as Record<string, number>;
    for (const [code, n] of counts.byCode) byCode[String(code)] = (byCode[String(code)] ?? 0) + n;
    const refusedNow = [...counts.byCode.values()].reduce((a, b) => a + b, 0);
    await db
      .updateTable("peers")
      .set((eb) => ({
        pulled: eb("pulled", "+", counts.pulled),
        accepted: eb("accepted", "+", counts.accepted),
        duplicates: eb("duplicates", "+", counts.duplicates),
        refused: eb("refused", "+", counts.refused),
        refused_by_code: JSON.stringify(byCode),
        failures: nextFailures,
        backoff_until: bad ? now + backoff : 0,
        last_pull_at: now,
        ...(failure === undefined ? { last_ok_at: now } : {}),
        last_error:
          failure !== undefined
            ? `${failure.code} ${failure.message}`
            : bad
              ? "refused messages (see refusedByCode)"
              : null,
      }))
      .where("url", "=", peer)
      .execute();
    if (refusedNow > 0 || bad) {
      const codes = [...counts.byCode].map(([c, n]) => `${c}×${n}`).join(" ");
      this.#log(
        `sync ${peer}: ${refusedNow} refused [${codes}]${bad ? `; backing off ${backoff} ms` : ""}`,
      );
      if (bad) this.#ctx.metrics.inc("sesame_sync_backoffs_total", { peer });
    }
  }

  /**
   * Applies one page in order. Consecutive actions go to the ingest queue together (a
   * tip waits for the actions before it, since it names a post). Returns the log id to
   * stop the cursor at when a message must wait and the deferral list is full.
   */
  async #applyPage(peer: string, page: Page, counts: RoundCounts): Promise<number | undefined> {
    const items = page.items;
    let i = 0;
    let previous = items.length > 0 ? (items[0] as SyncItem).logId - 1 : page.next;
    let deferredRoom = this.#maxDeferred - (await this.#deferredCount(peer));
    const waitingGrants = await this.#deferredGrants(peer);
    while (i < items.length) {
      const first = items[i] as SyncItem;
      let run: SyncItem[];
      let outcomes: Outcome[];
      if (first.type === "action") {
        let j = i + 1;
        if (!isTip(first)) {
          while (
            j < items.length &&
            (items[j] as SyncItem).type === "action" &&
            !isTip(items[j] as SyncItem)
          )
            j++;
        }
        run = items.slice(i, j);
        outcomes = await this.#applyActions(run.map((it) => it.message));
      } else {
        run = [first];
        outcomes = [await this.#applyOne(first)];
      }
      for (const [k, item] of run.entries()) {
        const outcome = waitFor(item, outcomes[k] as Outcome, waitingGrants);
        if (outcome.kind === "deferred") {
          if (deferredRoom <= 0) {
            this.#count(peer, counts, item, { kind: "duplicate" }, "pulled");
            return previous;
          }
          deferredRoom--;
          await this.#defer(peer, item, outcome.code);
          if (item.type === "grant") waitingGrants.add(grantIdOfItem(item));
        }
        this.#count(peer, counts, item, outcome, "new");
        previous = item.logId;
      }
      i += run.length;
    }
    return undefined;
  }

  #count(
    peer: string,
    counts: RoundCounts,
    item: SyncItem,
    outcome: Outcome,
    mode: "new" | "pulled" | "retried",
  ): void {
    const m = this.#ctx.metrics;
    if (mode !== "retried") {
      counts.pulled++;
      m.inc("sesame_sync_pulled_total", { peer });
    }
    if (mode === "pulled") return;
    if (outcome.kind === "accepted") {
      counts.accepted++;
      m.inc("sesame_sync_accepted_total", { peer, type: item.type });
    } else if (outcome.kind === "duplicate") {
      counts.duplicates++;
      m.inc("sesame_sync_duplicates_total", { peer });
    } else if (outcome.kind === "deferred") {
      m.inc("sesame_sync_deferred_total", { peer, code: String(outcome.code) });
    } else {
      counts.refused++;
      counts.byCode.set(outcome.code, (counts.byCode.get(outcome.code) ?? 0) + 1);
      if (isMisbehaviour(outcome.code)) counts.misbehaved = true;
      m.inc("sesame_sync_refused_total", { peer, code: String(outcome.code) });
    }
  }

  async #applyActions(messages: readonly unknown[]): Promise<Outcome[]> {
    const results = await this.#ctx.ingest.submit(messages, { peer: true });
    return results.map(outcomeOf);
  }

  async #applyOne(item: SyncItem): Promise<Outcome> {
    const ctx = this.#ctx;
    const now = ctx.clock();
    const run = async (): Promise<"accepted" | "duplicate"> => {
      switch (item.type) {
        case "grant": {
          const r = await registerGrant(
            ctx.storage.db,
            ctx.grants,
            item.message as SignedGrant,
            ctx.config.verify,
            ctx.backend,
            now,
            ctx.config.policy,
            ctx.chain,
            { lateGraceMs: this.#lateGraceMs },
          );
          return r.duplicate ? "duplicate" : "accepted";
        }
        case "revocation": {
          const r = await submitRevocation(
            ctx.storage.db,
            item.message as SignedRevocation,
            ctx.config.verify.network,
            ctx.backend,
            now,
          );
          return r.duplicate ? "duplicate" : "accepted";
        }
        case "equivocation": {
          const r = await submitEquivocation(
            ctx.storage.db,
            ctx.grants,
            item.message as EquivocationProof,
            ctx.backend,
            now,
          );
          return r.duplicate ? "duplicate" : "accepted";
        }
        case "action": {
          const [o] = await this.#applyActions([item.message]);
          if (o === undefined || o.kind === "refused" || o.kind === "deferred") throw o;
          return o.kind;
        }
      }
    };
    try {
      try {
        return (await run()) === "duplicate" ? { kind: "duplicate" } : { kind: "accepted" };
      } catch (e) {
        // Two writers inserting the same row: the loser retries and finds the winner's.
        if ((e as { code?: unknown }).code === "23505")
          return (await run()) === "duplicate" ? { kind: "duplicate" } : { kind: "accepted" };
        throw e;
      }
    } catch (e) {
      if (isProtocolError(e)) return outcomeOf({ ok: false, error: e.toJSON() });
      if (typeof e === "object" && e !== null && "kind" in e) return e as Outcome;
      throw e;
    }
  }

  /** Ids of this peer's grants that are deferred: their actions wait with them. */
  async #deferredGrants(peer: string): Promise<Set<string>> {
    const rows = await this.#ctx.storage.db
      .selectFrom("peer_deferred")
      .select("message")
      .where("peer", "=", peer)
      .where("type", "=", "grant")
      .execute();
    return new Set(
      rows.map((r) => grantIdOfItem({ logId: 0, type: "grant", message: JSON.parse(r.message) })),
    );
  }

  async #deferredCount(peer: string): Promise<number> {
    const r = await this.#ctx.storage.db
      .selectFrom("peer_deferred")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("peer", "=", peer)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async #defer(peer: string, item: SyncItem, code: number): Promise<void> {
    await this.#ctx.storage.db
      .insertInto("peer_deferred")
      .values({
        peer,
        log_id: item.logId,
        type: item.type,
        message: JSON.stringify(item.message),
        code,
        first_at: Date.now(),
      })
      .onConflict((oc) => oc.columns(["peer", "log_id"]).doUpdateSet({ code }))
      .execute();
  }

  /** Retries deferred messages in log order; drops those past the limit as refused. */
  async #retryDeferred(peer: string, counts: RoundCounts): Promise<void> {
    const db = this.#ctx.storage.db;
    const rows = await db
      .selectFrom("peer_deferred")
      .selectAll()
      .where("peer", "=", peer)
      .orderBy("log_id")
      .execute();
    const waitingGrants = await this.#deferredGrants(peer);
    for (const r of rows) {
      const item: SyncItem = {
        logId: r.log_id,
        type: r.type as ItemType,
        message: JSON.parse(r.message),
      };
      const outcome = waitFor(item, await this.#applyOne(item), waitingGrants);
      if (outcome.kind === "deferred" && Date.now() - r.first_at < this.#deferLimitMs) continue;
      if (item.type === "grant") waitingGrants.delete(grantIdOfItem(item));
      await db
        .deleteFrom("peer_deferred")
        .where("peer", "=", peer)
        .where("log_id", "=", r.log_id)
        .execute();
      const final: Outcome =
        outcome.kind === "deferred" ? { ...outcome, kind: "refused" } : outcome;
      // Counted as pulled when first deferred; count only how it ended.
      this.#count(peer, counts, item, final, "retried");
    }
  }
}

function newLoop(url: string): PeerLoop {
  return {
    url,
    wake: new AbortController(),
    force: new AbortController(),
    running: Promise.resolve(),
    waiters: [],
    stream: undefined,
    rounds: 0,
    stopped: false,
  };
}

/** The id of a grant item (the hash of its text; only deferred grants, which verified). */
function grantIdOfItem(item: SyncItem): string {
  const text = (item.message as { text?: unknown }).text;
  return typeof text === "string" ? grantIdOfText(text) : "";
}

/**
 * An action refused only because its grant is unknown here, while that grant waits among
 * this peer's deferred messages, waits with it (and is applied after it).
 */
function waitFor(item: SyncItem, outcome: Outcome, waitingGrants: ReadonlySet<string>): Outcome {
  if (outcome.kind !== "refused" || outcome.code !== ErrorCode.GRANT_UNKNOWN) return outcome;
  const grant = (item.message as { payload?: { grant?: unknown } }).payload?.grant;
  return typeof grant === "string" && waitingGrants.has(grant)
    ? { ...outcome, kind: "deferred" }
    : outcome;
}

/** A page of actions other than tips: it may be applied while the page before commits. */
function isPlain(page: Page): boolean {
  return page.items.every((i) => i.type === "action" && !isTip(i));
}

function isTip(item: SyncItem): boolean {
  return (item.message as { payload?: { kind?: unknown } }).payload?.kind === "tip";
}

function outcomeOf(r: ItemResult): Outcome {
  if (r.ok) return r.duplicate ? { kind: "duplicate" } : { kind: "accepted" };
  return { kind: isPassing(r.error) ? "deferred" : "refused", code: r.error.code, error: r.error };
}
