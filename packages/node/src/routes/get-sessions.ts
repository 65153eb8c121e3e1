import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { MAX_PAGE, SESSIONS_CURSOR, sessionsOf } from "../reads.js";
import { ErrorBody, WalletParams } from "../schemas.js";
import type { App } from "../server.js";

export function getSessions(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/wallets/:wallet/sessions",
    {
      schema: {
        summary:
          "The sessions of a wallet, newest grant first, a page at a time: app, device, scopes, limits, usage so far, highest seq and ordinals, expiry, status",
        params: WalletParams,
        querystring: Type.Object({
          cursor: Type.Optional(
            Type.String({
              pattern: SESSIONS_CURSOR.source,
              description:
                "`next` of the previous page: `<issuedAt>:<grantId>` of its last session",
            }),
          ),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: MAX_PAGE })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                grant: Type.String(),
                app: Type.String(),
                device: Type.String(),
                sessionKey: Type.String(),
                encryptionKey: Type.String(),
                scopes: Type.Array(Type.String()),
                limits: Type.Unknown(),
                tipBudget: Type.Unknown(),
                used: Type.Record(Type.String(), Type.Integer()),
                maxSeq: Type.Integer(),
                maxOrd: Type.Record(Type.String(), Type.Integer()),
                issuedAt: Type.Integer(),
                notBefore: Type.Integer(),
                expirationTime: Type.Integer(),
                status: Type.Union([
                  Type.Literal("active"),
                  Type.Literal("pending"),
                  Type.Literal("expired"),
                  Type.Literal("revoked"),
                ]),
                revokedAt: Type.Union([Type.Integer(), Type.Null()]),
                revokedBy: Type.Union([Type.String(), Type.Null()]),
                compromisedSince: Type.Union([Type.Integer(), Type.Null()]),
                text: Type.String(),
                signature: Type.String(),
                revocation: Type.Optional(
                  Type.Object({ text: Type.String(), signature: Type.String() }),
                ),
              }),
            ),
            next: Type.Union([Type.String(), Type.Null()], {
              description: "pass as `cursor` for the next (older) page; null at the end",
            }),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => await sessionsOf(ctx.storage.db, req.params.wallet, ctx.clock(), req.query),
  );
}
