import type { SignedRevocation } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { submitRevocation } from "../revocations.js";
import { ErrorBody, SignedRevocationBody } from "../schemas.js";
import type { App } from "../server.js";
import { countRefusal, objectBody, retryOnConflict } from "./util.js";

export function postRevocations(app: App, ctx: NodeContext): void {
  app.post(
    "/v1/revocations",
    {
      attachValidation: true,
      schema: {
        summary: "Apply a wallet-signed revocation: one session, or all issued before a time",
        body: SignedRevocationBody,
        response: {
          200: Type.Object({
            id: Type.String(),
            revoked: Type.Array(Type.String()),
            duplicate: Type.Boolean(),
            logId: Type.Integer(),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => {
      const body = objectBody<SignedRevocation>(req.body, "a signed revocation {text, signature}", [
        "text",
        "signature",
      ]);
      try {
        const result = await retryOnConflict(() =>
          submitRevocation(
            ctx.storage.db,
            body,
            ctx.config.verify.network,
            ctx.backend,
            ctx.clock(),
          ),
        );
        if (!result.duplicate)
          ctx.metrics.inc("sesame_messages_accepted_total", { kind: "revocation" });
        return result;
      } catch (e) {
        return countRefusal(ctx, e);
      }
    },
  );
}
