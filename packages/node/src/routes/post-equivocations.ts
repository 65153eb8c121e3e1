import {
  decodeSignedAction,
  type EquivocationProof,
  ErrorCode,
  isProtocolError,
  ProtocolError,
} from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { submitEquivocation } from "../revocations.js";
import { EquivocationBody, ErrorBody } from "../schemas.js";
import type { App } from "../server.js";
import { countRefusal, objectBody, retryOnConflict } from "./util.js";

export function postEquivocations(app: App, ctx: NodeContext): void {
  app.post(
    "/v1/equivocations",
    {
      attachValidation: true,
      schema: {
        summary:
          "Submit proof that a session signed two actions with one sequence number or ordinal; revokes it",
        body: EquivocationBody,
        response: {
          200: Type.Object({
            id: Type.String(),
            grant: Type.String(),
            by: Type.String(),
            duplicate: Type.Boolean(),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => {
      const body = objectBody<EquivocationProof>(req.body, "an equivocation proof {a, b}", [
        "a",
        "b",
      ]);
      try {
        // Both actions' shapes are checked before the grant is looked up.
        for (const side of ["a", "b"] as const) {
          try {
            decodeSignedAction((body as unknown as Record<string, unknown>)[side]);
          } catch (e) {
            if (!isProtocolError(e)) throw e;
            throw new ProtocolError(ErrorCode.EQUIVOCATION_PROOF_INVALID, {
              reason: `action ${side} is malformed: ${e.message}`,
            });
          }
        }
        const result = await retryOnConflict(() =>
          submitEquivocation(ctx.storage.db, ctx.grants, body, ctx.backend, ctx.clock()),
        );
        if (!result.duplicate)
          ctx.metrics.inc("sesame_messages_accepted_total", { kind: "equivocation" });
        return result;
      } catch (e) {
        return countRefusal(ctx, e);
      }
    },
  );
}
