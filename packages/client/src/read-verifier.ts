/**
 * Everything a client reads from a node, checked before it is used: each action against
 * its grant's session key, each grant against its wallet, each revocation against its
 * wallet, and every served field that was signed against what was signed. A node that
 * answers something that does not verify gets its whole answer refused with
 * `SesameClientError` reason `FORGED_READ`. What a node can only claim (counts, usage,
 * a revocation for equivocation, "active" vs. a hidden revocation) is listed in
 * docs/PROTOCOL.md §12.5.
 */
import {
  type Ed25519Backend,
  ErrorCode,
  type GrantId,
  isProtocolError,
  revocationCovers,
  type Signature,
  type VerifiedAction,
  type VerifiedGrant,
  type VerifyContext,
  verifyAction,
  verifyEquivocation,
  verifyGrant,
  verifyRevocation,
} from "@sesame/protocol";
import { isClientError, SesameClientError } from "./errors.js";
import type {
  NodeApi,
  Page,
  ServedAction,
  ServedPost,
  ServedProfile,
  ServedReactions,
  ServedSession,
  StreamEvent,
} from "./node-api.js";

export function forged(
  what: string,
  id: string,
  problem: string,
): SesameClientError<"FORGED_READ"> {
  return new SesameClientError("FORGED_READ", { what, id, problem });
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A session as the node listed it, with the grant this client verified for it. */
export interface VerifiedSession extends ServedSession {
  readonly verified: VerifiedGrant;
}

export class ReadVerifier {
  readonly #grants = new Map<string, Promise<VerifiedGrant>>();

  constructor(
    private readonly options: {
      readonly api: NodeApi;
      readonly backend: Ed25519Backend;
      readonly context: VerifyContext;
    },
  ) {}

  /** A grant by id, fetched from the node and verified once (its id is the hash of its text). */
  async grant(id: string): Promise<VerifiedGrant> {
    let g = this.#grants.get(id);
    if (g === undefined) {
      g = (async () => {
        const stored = await this.options.api.grant(id);
        const signed =
          stored.form === "transaction" && stored.transaction !== null
            ? { text: stored.text, transaction: stored.transaction }
            : { text: stored.text, signature: stored.signature as Signature };
        let verified: VerifiedGrant;
        try {
          verified = await verifyGrant(signed, this.options.context, this.options.backend);
        } catch (e) {
          throw forged("grant", id, why(e));
        }
        if (verified.id !== id) throw forged("grant", id, `the node served grant ${verified.id}`);
        if (stored.wallet !== verified.grant.wallet)
          throw forged("grant", id, "the wallet served is not the grant's");
        return verified;
      })();
      this.#grants.set(id, g);
      // A failure (unreachable, or a lie) is not remembered: the next read asks again.
      g.catch(() => this.#grants.delete(id));
    }
    return await g;
  }

  /**
   * A grant served with its text and signature (a sessions list, a stream event): verified
   * as a message-form grant; a transaction-form grant is taken from the node's grant
   * endpoint and must carry the same text and signature.
   */
  async signedGrant(
    what: string,
    id: string,
    text: string,
    signature: string,
  ): Promise<VerifiedGrant> {
    let verified: VerifiedGrant;
    try {
      verified = await verifyGrant(
        { text, signature: signature as Signature },
        this.options.context,
        this.options.backend,
      );
    } catch (e) {
      const stored = await this.grant(id).catch((err: unknown) => {
        if (isProtocolError(err, ErrorCode.NOT_FOUND) || isClientError(err, "FORGED_READ"))
          return undefined;
        throw err;
      });
      if (stored?.form !== "transaction" || stored.text !== text || stored.signature !== signature)
        throw forged(what, id, why(e));
      verified = stored;
    }
    if (verified.id !== id) throw forged(what, id, "the id is not the hash of the grant text");
    return verified;
  }

  /** One served action: its grant, its session signature, and every field served beside it. */
  async action(
    what: string,
    item: ServedAction,
    kinds?: readonly string[],
  ): Promise<VerifiedAction> {
    if (typeof item !== "object" || item === null) throw forged(what, "", "not an action");
    const grant = await this.grant(item.grant).catch((e: unknown) => {
      throw isProtocolError(e, ErrorCode.NOT_FOUND) ? forged(what, item.id, why(e)) : e;
    });
    let action: VerifiedAction;
    try {
      action = await verifyAction(
        { payload: item.payload, signature: item.signature },
        grant,
        this.options.backend,
      );
    } catch (e) {
      throw forged(what, item.id, why(e));
    }
    if (action.id !== item.id) throw forged(what, item.id, `the signed action is ${action.id}`);
    if (grant.grant.wallet !== item.wallet)
      throw forged(what, item.id, `signed for ${grant.grant.wallet}, served as ${item.wallet}`);
    if (action.payload.kind !== item.kind)
      throw forged(what, item.id, `a ${action.payload.kind} served as a ${item.kind}`);
    if (kinds !== undefined && !kinds.includes(action.payload.kind))
      throw forged(what, item.id, `a ${action.payload.kind} where ${kinds.join(" or ")} belongs`);
    return action;
  }

  /**
   * A page of actions, newest first (or oldest first with `ascending`): every item verifies,
   * each appears once, and the order is the log order the page claims.
   */
  async page<T extends ServedAction>(
    what: string,
    page: Page<T>,
    options: { kinds?: readonly string[]; wallet?: string; ascending?: boolean } = {},
  ): Promise<Page<T>> {
    if (typeof page !== "object" || page === null || !Array.isArray(page.items))
      throw forged(what, "", "not a page");
    for (const [i, item] of page.items.entries()) {
      const before = page.items[i - 1];
      if (
        before !== undefined &&
        (options.ascending === true ? before.logId >= item.logId : before.logId <= item.logId)
      )
        throw forged(what, item.id, "items out of log order, or repeated");
      if (options.wallet !== undefined && item.wallet !== options.wallet)
        throw forged(what, item.id, `an item of ${item.wallet} in a page of ${options.wallet}`);
    }
    await Promise.all(page.items.map((item) => this.action(what, item, options.kinds)));
    return page;
  }

  /** A thread: its root post and a page of replies (oldest first). */
  async thread(
    id: string,
    t: { root: ServedPost; replies: Page<ServedPost> },
  ): Promise<{ root: ServedPost; replies: Page<ServedPost> }> {
    await this.action(`thread ${id}`, t.root, ["post"]);
    await this.page(`thread ${id}`, t.replies, { kinds: ["reply"], ascending: true });
    return t;
  }

  /**
   * A post's reactions: each item's signed action is a `react` by a session of the wallet
   * listed, on this post, with the reaction and time listed; newest first, each once.
   * The counts are the node's word.
   */
  async reactions(target: string, r: ServedReactions): Promise<ServedReactions> {
    const what = `reactions of ${target}`;
    if (typeof r !== "object" || r === null || !Array.isArray(r.items))
      throw forged(what, "", "not a reactions page");
    for (const [i, item] of r.items.entries()) {
      if (typeof item !== "object" || item === null || typeof item.signed !== "object")
        throw forged(what, "", "an item without its signed action");
      const before = r.items[i - 1];
      if (before !== undefined && before.logId <= item.logId)
        throw forged(what, item.action, "items out of log order, or repeated");
      if (item.signed.id !== item.action || item.signed.logId !== item.logId)
        throw forged(what, item.action, "the signed action is not the one listed");
      if (item.signed.wallet !== item.wallet)
        throw forged(
          what,
          item.action,
          `listed as ${item.wallet}, served as ${item.signed.wallet}`,
        );
    }
    await Promise.all(
      r.items.map(async (item) => {
        const a = await this.action(what, item.signed, ["react"]);
        const body = a.payload.body as { target: string; reaction: string };
        if (body.target !== target) throw forged(what, item.action, `a reaction to ${body.target}`);
        if (body.reaction !== item.reaction || a.payload.ts !== item.ts)
          throw forged(what, item.action, "the reaction or time differ from the signed action");
      }),
    );
    return r;
  }

  /**
   * A profile: name, bio and avatar must be those of the profile action served with them,
   * signed by a session of this wallet. Counts are the node's word.
   */
  async profile(wallet: string, p: ServedProfile): Promise<ServedProfile> {
    if (p.wallet !== wallet) throw forged("profile", wallet, `the profile of ${p.wallet}`);
    if (p.action === null || p.action === undefined) {
      if (p.displayName !== "" || p.bio !== "" || p.avatarUrl !== "" || p.updatedBy !== null)
        throw forged("profile", wallet, "fields without the signed profile action they come from");
      return p;
    }
    const action = await this.action("profile", p.action, ["profile"]);
    if (p.action.wallet !== wallet)
      throw forged("profile", wallet, "the profile action is another wallet's");
    if (p.updatedBy !== action.id)
      throw forged("profile", wallet, "updatedBy is not the profile action served");
    const body = action.payload.body as { displayName: string; bio: string; avatarUrl: string };
    if (body.displayName !== p.displayName || body.bio !== p.bio || body.avatarUrl !== p.avatarUrl)
      throw forged("profile", wallet, "the fields differ from the signed profile action");
    return p;
  }

  /**
   * One session of `wallet` as listed: its grant verifies against the wallet, the fields
   * served beside it are the grant's, and a revoked one carries the wallet-signed
   * revocation that covers it (unless the node reports it revoked for equivocation).
   */
  async session(wallet: string, s: ServedSession): Promise<VerifiedSession> {
    if (typeof s !== "object" || s === null) throw forged("sessions", "", "not a session");
    const verified = await this.signedGrant("sessions", s.grant, s.text, s.signature);
    const g = verified.grant;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const mismatch =
      g.wallet !== wallet
        ? "wallet"
        : s.app !== g.domain
          ? "app"
          : s.device !== g.device
            ? "device"
            : s.sessionKey !== g.sessionKey
              ? "sessionKey"
              : s.encryptionKey !== g.encryptionKey
                ? "encryptionKey"
                : !same(s.scopes, g.scopes)
                  ? "scopes"
                  : !same(s.limits, g.limits)
                    ? "limits"
                    : !same(s.tipBudget, g.tipBudget)
                      ? "tipBudget"
                      : s.issuedAt !== g.issuedAt ||
                          s.notBefore !== g.notBefore ||
                          s.expirationTime !== g.expirationTime
                        ? "times"
                        : undefined;
    if (mismatch !== undefined)
      throw forged("sessions", s.grant, `${mismatch} is not what the wallet signed`);
    if (s.revocation !== undefined) {
      if (s.status !== "revoked")
        throw forged("sessions", s.grant, `a revocation served with status ${s.status}`);
      let rev: Awaited<ReturnType<typeof verifyRevocation>>;
      try {
        rev = await verifyRevocation(
          s.revocation as never,
          this.options.context,
          this.options.backend,
        );
      } catch (e) {
        throw forged("sessions", s.grant, `the revocation: ${why(e)}`);
      }
      if (!revocationCovers(rev.revocation, g, verified.id as GrantId))
        throw forged("sessions", s.grant, "the revocation served does not cover this session");
    } else if (s.status === "revoked" && s.revokedBy !== "equivocation") {
      throw forged("sessions", s.grant, "revoked, without the wallet's signed revocation");
    }
    return { ...s, verified };
  }

  async sessions(wallet: string, items: readonly ServedSession[]): Promise<VerifiedSession[]> {
    if (!Array.isArray(items)) throw forged("sessions", "", "not a list");
    return await Promise.all(items.map((s) => this.session(wallet, s)));
  }

  /** One live stream event: actions, grants, revocations and equivocation proofs. */
  async event(e: StreamEvent): Promise<void> {
    const what = `stream event ${e.logId}`;
    const data = e.data as Record<string, unknown> | null;
    if (typeof data !== "object" || data === null) throw forged(what, "", "no data");
    const id = typeof data.id === "string" ? data.id : "";
    switch (e.type) {
      case "action": {
        const a = await this.action(what, { ...(data as unknown as ServedAction), logId: e.logId });
        if (a.payload.kind === "dm") throw forged(what, id, "direct messages are not streamed");
        return;
      }
      case "grant": {
        const g = await this.signedGrant(what, id, String(data.text), String(data.signature));
        if (g.grant.wallet !== data.wallet) throw forged(what, id, "the wallet is not the grant's");
        return;
      }
      case "revocation": {
        try {
          const r = await verifyRevocation(
            { text: String(data.text), signature: String(data.signature) as Signature },
            this.options.context,
            this.options.backend,
          );
          if (r.id !== id || r.revocation.wallet !== data.wallet)
            throw new Error("its id or wallet is not the signed revocation's");
        } catch (err) {
          throw err instanceof SesameClientError ? err : forged(what, id, why(err));
        }
        return;
      }
      case "equivocation": {
        const grant = await this.grant(String(data.grant));
        try {
          await verifyEquivocation(
            { a: data.a as never, b: data.b as never },
            grant,
            this.options.backend,
          );
        } catch (err) {
          throw forged(what, id, why(err));
        }
        return;
      }
      default:
        throw forged(what, id, `unknown event type ${JSON.stringify(e.type)}`);
    }
  }
}
