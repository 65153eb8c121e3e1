import {
  type ErrorBody,
  ErrorCode,
  isErrorCode,
  ProtocolError,
  type SignedAction,
  type SignedGrant,
  type SignedRevocation,
} from "@sesame/protocol";
import { SesameClientError } from "./errors.js";
import type { ChainInfo } from "./funds.js";

export type ItemResult =
  | { readonly ok: true; readonly id: string; readonly logId: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly error: ErrorBody };

export interface ServedAction {
  readonly id: string;
  readonly logId: number;
  readonly kind: string;
  readonly wallet: string;
  readonly grant: string;
  readonly receivedAt: number;
  readonly payload: unknown;
  readonly signature: string;
}

/** One current reaction to a post, with the signed react action that set it. */
export interface ServedReaction {
  readonly wallet: string;
  readonly reaction: string;
  readonly ts: number;
  /** The id of the action that set it (`signed.id`). */
  readonly action: string;
  readonly logId: number;
  readonly signed: ServedAction;
}

/** A post's reactions: counts (the node's word) and a page of who reacted, newest first. */
export interface ServedReactions {
  readonly counts: Record<string, number>;
  readonly items: ServedReaction[];
  readonly next: string | null;
}

export interface ServedPost extends ServedAction {
  readonly replies: number;
  readonly reactions: Readonly<Record<string, number>>;
}

export interface Page<T> {
  readonly items: T[];
  readonly next: string | null;
}

export interface ServedSession {
  readonly grant: string;
  readonly app: string;
  readonly device: string;
  readonly sessionKey: string;
  readonly encryptionKey: string;
  readonly scopes: string[];
  readonly limits: unknown;
  readonly tipBudget: unknown;
  readonly used: Record<string, number>;
  /** Highest sequence number and per-scope ordinals this node accepted (older nodes: absent). */
  readonly maxSeq?: number;
  readonly maxOrd?: Record<string, number>;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expirationTime: number;
  readonly status: "active" | "pending" | "expired" | "revoked";
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
  readonly compromisedSince: number | null;
  readonly text: string;
  readonly signature: string;
  /** A session revoked by a revocation: the wallet-signed revocation that covers it. */
  readonly revocation?: { readonly text: string; readonly signature: string };
}

export interface ServedProfile {
  readonly wallet: string;
  readonly displayName: string;
  readonly bio: string;
  readonly avatarUrl: string;
  readonly updatedBy: string | null;
  readonly posts: number;
  readonly followers: number;
  readonly following: number;
  /** The signed profile action the name, bio and avatar come from; null when never set. */
  readonly action: ServedAction | null;
}

export interface StoredGrant {
  readonly id: string;
  readonly wallet: string;
  readonly text: string;
  readonly signature: string;
  readonly form: string;
  readonly transaction: string | null;
}

export interface StreamEvent {
  readonly logId: number;
  readonly type: string;
  readonly data: unknown;
}

/** A node's refusal as a typed error: `code` is the protocol's stable number. */
export function errorFromBody(body: unknown, status: number): ProtocolError {
  const b = body as Partial<ErrorBody> | null;
  if (b !== null && typeof b === "object" && isErrorCode(b.code)) {
    return new ProtocolError(b.code, (b.context ?? {}) as never);
  }
  return new ProtocolError(ErrorCode.INTERNAL, { reference: `HTTP ${status}` });
}

/**
 * An HTTP status that did not come with a Sesame error body. 408, 429 and 5xx say "later"
 * (retried with backoff, honouring Retry-After); 413 says "never through this path" (the
 * action is refused for good, with a clear error); other 4xx are a misconfiguration
 * between client and node, so the action is kept and retried rather than lost.
 */
export function httpStatusError(status: number, retryAfter: string | null): SesameClientError {
  let retryAfterMs: number | null = null;
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(seconds)) retryAfterMs = Math.max(0, seconds * 1000);
    else if (Number.isFinite(at)) retryAfterMs = Math.max(0, at - Date.now());
  }
  return new SesameClientError("HTTP_STATUS", {
    status,
    transient: status !== 413,
    retryAfterMs,
  });
}

/** The node could not be reached: actions stay queued and are sent when it returns. */
export function isUnavailable(e: unknown): boolean {
  return e instanceof ProtocolError && e.code === ErrorCode.UNAVAILABLE;
}

export interface PageQuery {
  readonly cursor?: string | null | undefined;
  readonly limit?: number | undefined;
}

function query(q: PageQuery = {}): string {
  const params = new URLSearchParams();
  if (q.cursor !== undefined && q.cursor !== null) params.set("cursor", q.cursor);
  if (q.limit !== undefined) params.set("limit", String(q.limit));
  const s = params.toString();
  return s === "" ? "" : `?${s}`;
}

/** A thin, typed HTTP client for one Sesame node. */
export class NodeApi {
  constructor(
    readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch = (...a) => globalThis.fetch(...a),
  ) {}

  async #request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw new ProtocolError(ErrorCode.UNAVAILABLE, {
        reason: `cannot reach ${this.baseUrl}: ${(e as Error).message}`,
      });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const coded = isErrorCode((json as ErrorBody | undefined)?.code);
    if (!res.ok) {
      if (coded) throw errorFromBody(json, res.status);
      // Not a Sesame answer: a proxy, a gateway or a load balancer spoke.
      throw httpStatusError(res.status, res.headers.get("retry-after"));
    }
    if (json === undefined && text !== "") {
      throw new ProtocolError(ErrorCode.UNAVAILABLE, {
        reason: `the node answered HTTP ${res.status} without JSON`,
      });
    }
    return json as T;
  }

  postGrant(grant: SignedGrant) {
    return this.#request<{
      id: string;
      wallet: string;
      status: string;
      duplicate: boolean;
      logId: number;
    }>("POST", "/v1/grants", grant);
  }

  /** One action: resolves with the stored id, rejects with the refusal. */
  postAction(action: SignedAction) {
    return this.#request<Extract<ItemResult, { ok: true }>>("POST", "/v1/actions", action);
  }

  async postActions(actions: readonly SignedAction[]): Promise<ItemResult[]> {
    return (await this.#request<{ results: ItemResult[] }>("POST", "/v1/actions", { actions }))
      .results;
  }

  postRevocation(revocation: SignedRevocation) {
    return this.#request<{ id: string; revoked: string[]; duplicate: boolean; logId: number }>(
      "POST",
      "/v1/revocations",
      revocation,
    );
  }

  postEquivocation(proof: { a: SignedAction; b: SignedAction }) {
    return this.#request<{ id: string; grant: string; by: string; duplicate: boolean }>(
      "POST",
      "/v1/equivocations",
      proof,
    );
  }

  feed(q?: PageQuery) {
    return this.#request<Page<ServedPost>>("GET", `/v1/feed${query(q)}`);
  }

  followingFeed(wallet: string, q?: PageQuery) {
    return this.#request<Page<ServedPost>>(
      "GET",
      `/v1/wallets/${wallet}/following-feed${query(q)}`,
    );
  }

  walletPosts(wallet: string, q?: PageQuery) {
    return this.#request<Page<ServedPost>>("GET", `/v1/wallets/${wallet}/posts${query(q)}`);
  }

  post(id: string) {
    return this.#request<ServedPost>("GET", `/v1/posts/${id}`);
  }

  thread(id: string, q?: PageQuery) {
    return this.#request<{ root: ServedPost; replies: Page<ServedPost> }>(
      "GET",
      `/v1/posts/${id}/thread${query(q)}`,
    );
  }

  /** Counts by reaction (all of them) and who reacted, newest first, a page at a time. */
  reactions(id: string, q: PageQuery = {}) {
    return this.#request<ServedReactions>("GET", `/v1/posts/${id}/reactions${query(q)}`);
  }

  profile(wallet: string) {
    return this.#request<ServedProfile>("GET", `/v1/wallets/${wallet}/profile`);
  }

  /** Every session of a wallet, newest grant first: follows `sessionsPage` to the end. */
  async sessions(wallet: string): Promise<ServedSession[]> {
    const all: ServedSession[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.sessionsPage(wallet, { cursor, limit: 100 });
      all.push(...page.items);
      if (typeof page.next !== "string" || page.items.length === 0) return all;
      // A cursor that does not move would page forever: an answer no honest node gives.
      if (page.next === cursor)
        throw new SesameClientError("FORGED_READ", {
          what: "sessions",
          id: wallet,
          problem: `the next page's cursor ${page.next} repeats the one asked for`,
        });
      cursor = page.next;
    }
  }

  /** One page of a wallet's sessions; `next` (`<issuedAt>:<grantId>`) is the following page's cursor. */
  sessionsPage(wallet: string, q?: PageQuery) {
    return this.#request<Page<ServedSession>>("GET", `/v1/wallets/${wallet}/sessions${query(q)}`);
  }

  grant(id: string) {
    return this.#request<StoredGrant>("GET", `/v1/grants/${id}`);
  }

  /** `signRequest` signs the exact method and path (docs/PROTOCOL.md, signed requests). */
  async inbox(
    wallet: string,
    signRequest: (method: string, path: string) => Promise<string>,
    q?: PageQuery,
  ) {
    const path = `/v1/wallets/${wallet}/inbox${query(q)}`;
    return await this.#request<Page<ServedAction>>("GET", path, undefined, {
      "sesame-request": await signRequest("GET", path),
    });
  }

  /** The funds tier: the node's chain, whether it verifies tips, its RPC path and demo mint. */
  chainInfo() {
    return this.#request<ChainInfo>("GET", "/v1/chain");
  }

  /** Embedded chain only: 2 SOL and 100 demo tokens for a (demo) wallet. */
  faucet(wallet: string) {
    return this.#request<{ lamports: string; tokens: string; mint: string }>("POST", "/v1/faucet", {
      wallet,
    });
  }

  health() {
    return this.#request<{ status: string; engine: string; network: string; chain: string }>(
      "GET",
      "/health",
    );
  }

  /**
   * Follows the node's live stream (server-sent events) from `after`, reconnecting with
   * the last event id until `signal` aborts. Works in browsers and Node (fetch streams).
   */
  async stream(
    onEvent: (e: StreamEvent) => void,
    options: { after?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    let lastId = options.after;
    const stopped = () => options.signal?.aborted === true;
    while (!stopped()) {
      try {
        const res = await this.fetchImpl(
          `${this.baseUrl}/v1/stream${lastId === undefined ? "" : `?after=${lastId}`}`,
          {
            headers: {
              accept: "text/event-stream",
              ...(lastId === undefined ? {} : { "last-event-id": String(lastId) }),
            },
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          },
        );
        if (res.body === null) throw new Error("no stream body");
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf("\n\n");
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf("\n\n");
            let id: number | undefined;
            let type = "message";
            let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) id = Number(line.slice(4));
              else if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (id === undefined || data === "") continue;
            lastId = id;
            onEvent({ logId: id, type, data: JSON.parse(data) });
          }
        }
      } catch {
        // Aborted, or the connection dropped: the loop condition decides.
      }
      if (stopped()) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
