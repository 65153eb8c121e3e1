import {
  decodeSignedRequest,
  ErrorCode,
  ProtocolError,
  verifySignedRequest,
} from "@sesame/protocol";
import type { NodeContext } from "../context.js";
import { inbox } from "../reads.js";
import { ActionPage, ErrorBody, PageQuery, WalletParams } from "../schemas.js";
import type { App } from "../server.js";

export const REQUEST_HEADER = "sesame-request";

export function getInbox(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/wallets/:wallet/inbox",
    {
      schema: {
        summary: "Direct messages to and from a wallet (ciphertext only)",
        description:
          "Needs a `Sesame-Request` header: base64url of the JSON `{payload, signature}` of a request signed by a live session of this wallet that holds the `dm` scope (docs/PROTOCOL.md, Signed requests).",
        params: WalletParams,
        querystring: PageQuery,
        response: { 200: ActionPage, "4xx": ErrorBody },
      },
    },
    async (req) => {
      const header = req.headers[REQUEST_HEADER];
      if (typeof header !== "string" || header.length > 4096) {
        throw new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, {
          reason: "missing Sesame-Request header",
        });
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
      } catch {
        throw new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, {
          reason: "the Sesame-Request header is not base64url JSON",
        });
      }
      const signed = decodeSignedRequest(parsed);
      const grant = await ctx.grants.get(signed.payload.grant);
      if (grant === undefined)
        throw new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, { reason: "unknown session" });
      const now = ctx.clock();
      await verifySignedRequest(
        signed,
        { method: req.method, path: req.url, now },
        grant,
        ctx.backend,
      );
      if (grant.grant.wallet !== req.params.wallet) {
        throw new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, {
          reason: "the session belongs to another wallet",
        });
      }
      if (!grant.grant.scopes.includes("dm")) {
        throw new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, {
          reason: "the session lacks the dm scope",
        });
      }
      const session = await ctx.storage.db
        .selectFrom("sessions")
        .select(["status"])
        .where("grant_id", "=", grant.id)
        .executeTakeFirst();
      if (
        session?.status !== "active" ||
        now >= grant.grant.expirationTime ||
        now < grant.grant.notBefore
      ) {
        throw new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, {
          reason: "the session is not live",
        });
      }
      return await inbox(ctx.storage.db, req.params.wallet, req.query);
    },
  );
}
