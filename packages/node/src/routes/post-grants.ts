import type { SignedGrant } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { registerGrant } from "../grants.js";
import { ErrorBody, SignedGrantBody } from "../schemas.js";
import type { App } from "../server.js";
import { countRefusal, objectBody, retryOnConflict } from "./util.js";

export function postGrants(app: App, ctx: NodeContext): void {
  app.post(
    "/v1/grants",
    {
      attachValidation: true,
      schema: {
        summary: "Register a wallet-signed grant (starts a session on this node)",
        body: SignedGrantBody,
        response: {
          200: Type.Object({
            id: Type.String(),
            wallet: Type.String(),
            status: Type.String(),
            duplicate: Type.Boolean(),
            logId: Type.Integer(),
          }),
          201: Type.Object({
            id: Type.String(),
            wallet: Type.String(),
            status: Type.String(),
            duplicate: Type.Boolean(),
            logId: Type.Integer(),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const body = objectBody<SignedGrant>(
        req.body,
        "a signed grant {text, signature} or {text, transaction}",
        ["text", "signature", "transaction"],
      );
      try {
        const result = await retryOnConflict(() =>
          registerGrant(
            ctx.storage.db,
            ctx.grants,
            body,
            ctx.config.verify,
            ctx.backend,
            ctx.clock(),
            ctx.config.policy,
            ctx.chain,
          ),
        );
        if (!result.duplicate) ctx.metrics.inc("sesame_messages_accepted_total", { kind: "grant" });
        return reply.status(result.duplicate ? 200 : 201).send(result);
      } catch (e) {
        return countRefusal(ctx, e);
      }
    },
  );
}
