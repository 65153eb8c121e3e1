import {
  type ActionId,
  type ActionKind,
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  type BodyOfKind,
  type DmBody,
  type Ed25519Backend,
  type EncryptionPublicKey,
  ErrorCode,
  ProtocolError,
  requestSigningBytes,
  SCOPE_OF_KIND,
  type Signature,
  type SignedAction,
  toBase58,
  toBase64url,
  utf8,
  type VerifiedGrant,
  type VerifyContext,
  verifyAction,
  verifyGrant,
  type WalletAddress,
} from "@sesame/protocol";
import { type DmPlaintext, decryptDm, encryptDm } from "./dm.js";
import type { SessionStore } from "./keys.js";
import {
  isUnavailable,
  type NodeApi,
  type Page,
  type PageQuery,
  type ServedAction,
  type ServedPost,
  type StreamEvent,
} from "./node-api.js";
import type { ActiveSession, SessionManager } from "./session-manager.js";

export type SendResult =
  | { readonly status: "accepted"; readonly id: ActionId; readonly duplicate: boolean }
  /** The node is unreachable: the action is signed and queued, and goes out when it returns. */
  | { readonly status: "queued"; readonly id: ActionId };

/** At most this many actions, and about this many bytes of JSON, per request. */
const BATCH_ITEMS = 100;
const BATCH_BYTES = 256 * 1024;

/** Takes the next batch off the front of `outbox`: at least one action, in order. */
function takeBatch(outbox: SignedAction[]): SignedAction[] {
  let bytes = 0;
  let n = 0;
  while (n < outbox.length && n < BATCH_ITEMS) {
    bytes += JSON.stringify(outbox[n]).length;
    if (n > 0 && bytes > BATCH_BYTES) break;
    n++;
  }
  return outbox.splice(0, n);
}

/** Refusals of a whole request that say "later", not "never". */
function isTransient(e: unknown): boolean {
  return (
    e instanceof ProtocolError &&
    (e.code === ErrorCode.TOO_MANY_REQUESTS ||
      e.code === ErrorCode.REQUEST_TIMEOUT ||
      // The node may or may not have stored it: resending the same signed action tells.
      e.code === ErrorCode.WRITE_OUTCOME_UNKNOWN ||
      e.code === ErrorCode.INTERNAL)
  );
}

export interface SocialClientOptions {
  readonly manager: SessionManager;
  readonly store: SessionStore;
  readonly api: NodeApi;
  /** Verification backend for everything read (node:crypto in Node, WebCrypto in browsers). */
  readonly backend: Ed25519Backend;
  readonly context: VerifyContext;
  readonly clock?: () => number;
}

export interface Verified<T> {
  readonly items: T[];
  readonly next: string | null;
  /** Items the node served that did not verify, and were dropped. */
  readonly rejected: number;
}

export interface ReadDm {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly at: number;
  /** Undefined when no copy was made for this session's key. */
  readonly message: DmPlaintext | undefined;
}

/**
 * What an app does with a session: act (no prompts), read (every item verified), and
 * direct messages. Actions are signed with counters reserved durably beforehand, kept in
 * an outbox until a node acknowledges them, and delivered in order exactly once.
 */
export class SocialClient {
  readonly #grants = new Map<string, Promise<VerifiedGrant>>();
  readonly #clock: () => number;
  #flushChain: Promise<void> = Promise.resolve();
  readonly #outcomes = new Map<string, "accepted" | "duplicate" | ProtocolError>();

  constructor(private readonly options: SocialClientOptions) {
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * This device's session, if it can act: else the refusal an app shows (none, revoked,
   * expired), as a ProtocolError. No prompt.
   */
  async session(): Promise<ActiveSession> {
    const status = await this.options.manager.status();
    switch (status.state) {
      case "none":
        throw new ProtocolError(ErrorCode.NOT_FOUND, { what: "a session: start one first" });
      case "revoked":
        throw new ProtocolError(ErrorCode.SESSION_REVOKED, {
          grantId: status.grantId,
          revokedAt: status.revokedAt,
        });
      case "expired":
        throw new ProtocolError(ErrorCode.SESSION_EXPIRED, {
          grantId: status.session.grantId,
          expirationTime: status.session.grant.expirationTime,
          at: this.#clock(),
        });
      case "active":
        return status.session;
    }
  }

  /** Signs one action with the session key and sends it (queued if the node is down). */
  async act<K extends ActionKind>(kind: K, body: BodyOfKind[K]): Promise<SendResult> {
    const session = await this.session();
    const { store } = this.options;
    const scope = SCOPE_OF_KIND[kind];
    if (!session.grant.scopes.includes(scope))
      throw new ProtocolError(ErrorCode.SCOPE_NOT_GRANTED, { scope });
    // Durable before signing: a crash after this line can skip numbers, never reuse them.
    const { seq, ord } = await store.reserve(session.slot, scope);
    const payload = {
      v: 1,
      kind,
      grant: session.grantId,
      seq,
      ord,
      ts: this.#clock(),
      body,
    } as ActionPayload;
    const signature = toBase58(await session.keys.sign(actionSigningBytes(payload))) as Signature;
    // Durable before sending: a crash now leaves it in the outbox, sent on the next flush.
    await store.enqueue(session.slot, { payload, signature });
    const id = actionIdOf(payload);
    await this.flush();
    const outcome = this.#outcomes.get(signature);
    this.#outcomes.delete(signature);
    if (outcome === undefined) return { status: "queued", id };
    if (outcome instanceof ProtocolError) throw outcome;
    return { status: "accepted", id, duplicate: outcome === "duplicate" };
  }

  /**
   * Sends the outbox, oldest first, in batches; stops at the first sign that the node is
   * unreachable (what is left stays queued). Flushes never overlap, so order holds.
   * Returns how many actions left the outbox (accepted, duplicate or refused for good).
   */
  flush(): Promise<number> {
    const run = this.#flushChain.then(() => this.#flushOnce());
    this.#flushChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #flushOnce(): Promise<number> {
    const session = await this.options.manager.resume();
    if (session === undefined) return 0;
    const { api, store } = this.options;
    let done = 0;
    const outbox = [...session.record.outbox];
    let revoked = false;
    while (outbox.length > 0) {
      const batch = takeBatch(outbox);
      let results: Awaited<ReturnType<NodeApi["postActions"]>>;
      try {
        results = await api.postActions(batch);
      } catch (e) {
        // Unreachable, busy or timed out: everything left stays queued, in order.
        if (isUnavailable(e) || isTransient(e)) return done;
        // Refused as a whole (too large, malformed): send one by one, so one bad action
        // is refused alone instead of blocking the queue for ever.
        if (!(e instanceof ProtocolError) || batch.length === 1) {
          if (!(e instanceof ProtocolError)) throw e;
          results = [{ ok: false, error: e.toJSON() }];
        } else {
          outbox.unshift(...batch.slice(1));
          batch.length = 1;
          try {
            results = await api.postActions(batch);
          } catch (single) {
            if (isUnavailable(single) || isTransient(single)) return done;
            if (!(single instanceof ProtocolError)) throw single;
            results = [{ ok: false, error: single.toJSON() }];
          }
        }
      }
      for (const [i, action] of batch.entries()) {
        const r = results[i];
        if (r === undefined) continue;
        // Accepted, a duplicate, or refused for good (revoked, over a cap): out of the outbox.
        this.#outcomes.set(
          action.signature,
          r.ok
            ? r.duplicate
              ? "duplicate"
              : "accepted"
            : new ProtocolError(r.error.code, r.error.context as never),
        );
        await store.dequeue(session.slot, action.signature);
        done++;
        if (
          !r.ok &&
          (r.error.code === ErrorCode.SESSION_REVOKED || r.error.code === ErrorCode.EQUIVOCATION)
        ) {
          revoked = true;
        }
      }
    }
    // Revoked on another device (or cut off for equivocation): destroy the keys here too,
    // so what was encrypted to them can no longer be read on this device either.
    if (revoked) await this.options.manager.forgetRevoked();
    return done;
  }

  post(text: string, options: { links?: string[]; mentions?: WalletAddress[] } = {}) {
    return this.act("post", { text, links: options.links ?? [], mentions: options.mentions ?? [] });
  }

  reply(
    parent: string,
    text: string,
    options: { links?: string[]; mentions?: WalletAddress[] } = {},
  ) {
    return this.act("reply", {
      parent: parent as ActionId,
      text,
      links: options.links ?? [],
      mentions: options.mentions ?? [],
    });
  }

  react(target: string, reaction = "like") {
    return this.act("react", { target: target as ActionId, reaction });
  }

  unreact(target: string, reaction = "like") {
    return this.act("unreact", { target: target as ActionId, reaction });
  }

  follow(target: string) {
    return this.act("follow", { target: target as WalletAddress });
  }

  unfollow(target: string) {
    return this.act("unfollow", { target: target as WalletAddress });
  }

  setProfile(profile: { displayName?: string; bio?: string; avatarUrl?: string }) {
    return this.act("profile", {
      displayName: profile.displayName ?? "",
      bio: profile.bio ?? "",
      avatarUrl: profile.avatarUrl ?? "",
    });
  }

  /** Records a tip whose on-chain transfer already happened (the funds tier builds it). */
  tip(body: BodyOfKind["tip"]) {
    return this.act("tip", body);
  }

  /**
   * Sends a direct message, encrypted to every live `dm` session of the recipient and to
   * this wallet's own live `dm` sessions (so its other devices can read what it sent).
   */
  async sendDm(to: string, text: string): Promise<SendResult> {
    const session = await this.session();
    const from = session.grant.wallet;
    // The node only says which sessions exist; each key is taken from a grant whose
    // wallet signature this client verified itself, so a node cannot slip in its own key.
    const liveKeys = async (wallet: string): Promise<EncryptionPublicKey[]> => {
      const now = this.#clock();
      const listed = (await this.options.api.sessions(wallet)).filter(
        (s) => s.status === "active" && s.scopes.includes("dm"),
      );
      const keys: EncryptionPublicKey[] = [];
      for (const s of listed) {
        try {
          const g = (await this.#grant(s.grant)).grant;
          if (g.wallet !== wallet || !g.scopes.includes("dm") || g.expirationTime <= now) continue;
          keys.push(g.encryptionKey);
        } catch {
          // A session whose grant does not verify gets no copy.
        }
      }
      return keys;
    };
    const theirs = await liveKeys(to);
    const recipients = [...theirs, ...(await liveKeys(from)), session.grant.encryptionKey];
    const unique = [...new Set(recipients)];
    if (theirs.length === 0) {
      throw new ProtocolError(ErrorCode.NOT_FOUND, {
        what: `a live session of ${to} that accepts direct messages`,
      });
    }
    const body = encryptDm(from, to as WalletAddress, { text }, unique.slice(0, 16));
    return await this.act("dm", body);
  }

  /** This wallet's direct messages, decrypted with this session's key, newest first. */
  async inbox(q?: PageQuery): Promise<Verified<ReadDm>> {
    const session = await this.session();
    const page = await this.options.api.inbox(
      session.grant.wallet,
      async (method, path) => {
        const payload = { v: 1 as const, grant: session.grantId, method, path, ts: this.#clock() };
        const signature = toBase58(await session.keys.sign(requestSigningBytes(payload)));
        return toBase64url(utf8(JSON.stringify({ payload, signature })));
      },
      q,
    );
    const verified = await this.#verifyPage(page);
    const items: ReadDm[] = [];
    for (const a of verified.items) {
      const p = a.payload as ActionPayload & { kind: "dm" };
      let message: DmPlaintext | undefined;
      try {
        message = await decryptDm(a.wallet as WalletAddress, p.body as DmBody, session.keys);
      } catch {
        // A copy for this key that does not open (the sender made it badly or bound it to
        // another message): unreadable, but it must not hide the rest of the inbox.
        message = undefined;
      }
      items.push({ id: a.id, from: a.wallet, to: p.body.to, at: p.ts, message });
    }
    return { items, next: verified.next, rejected: verified.rejected };
  }

  async #grant(id: string): Promise<VerifiedGrant> {
    let g = this.#grants.get(id);
    if (g === undefined) {
      g = (async () => {
        const stored = await this.options.api.grant(id);
        const signed =
          stored.form === "transaction" && stored.transaction !== null
            ? { text: stored.text, transaction: stored.transaction }
            : { text: stored.text, signature: stored.signature as Signature };
        return await verifyGrant(signed, this.options.context, this.options.backend);
      })();
      this.#grants.set(id, g);
      g.catch(() => this.#grants.delete(id));
    }
    return await g;
  }

  /** Checks an item the node served: its grant's wallet signature and the action's. */
  async verifyItem<T extends ServedAction>(item: T): Promise<boolean> {
    try {
      const grant = await this.#grant(item.grant);
      const action = await verifyAction(
        { payload: item.payload, signature: item.signature },
        grant,
        this.options.backend,
      );
      return action.id === item.id && grant.grant.wallet === item.wallet;
    } catch {
      return false;
    }
  }

  async #verifyPage<T extends ServedAction>(page: Page<T>): Promise<Verified<T>> {
    const ok = await Promise.all(page.items.map((i) => this.verifyItem(i)));
    return {
      items: page.items.filter((_, i) => ok[i]),
      next: page.next,
      rejected: ok.filter((x) => !x).length,
    };
  }

  async feed(q?: PageQuery): Promise<Verified<ServedPost>> {
    return await this.#verifyPage(await this.options.api.feed(q));
  }

  async followingFeed(q?: PageQuery): Promise<Verified<ServedPost>> {
    return await this.#verifyPage(
      await this.options.api.followingFeed(this.options.manager.walletAddress, q),
    );
  }

  async walletPosts(wallet: string, q?: PageQuery): Promise<Verified<ServedPost>> {
    return await this.#verifyPage(await this.options.api.walletPosts(wallet, q));
  }

  async thread(
    id: string,
    q?: PageQuery,
  ): Promise<{ root: ServedPost; replies: Verified<ServedPost> }> {
    const t = await this.options.api.thread(id, q);
    if (!(await this.verifyItem(t.root))) {
      throw new ProtocolError(ErrorCode.BAD_SIGNATURE, { signer: t.root.wallet });
    }
    return { root: t.root, replies: await this.#verifyPage(t.replies) };
  }

  profile(wallet: string) {
    return this.options.api.profile(wallet);
  }

  sessions(wallet = this.options.manager.walletAddress) {
    return this.options.api.sessions(wallet);
  }

  /** Live events; actions that do not verify are dropped. Resolves when `signal` aborts. */
  async subscribe(
    onEvent: (e: StreamEvent) => void,
    options: { after?: number; signal?: AbortSignal } = {},
  ) {
    await this.options.api.stream((e) => {
      if (e.type !== "action") return onEvent(e);
      void this.verifyItem({ ...(e.data as ServedAction), logId: e.logId }).then((ok) => {
        if (ok) onEvent(e);
      });
    }, options);
  }
}
