import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { reactionsOf } from "../reads.js";
import { ErrorBody, IdParams } from "../schemas.js";
import type { App } from "../server.js";

export function getReactions(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/posts/:id/reactions",
    {
      schema: {
        summary: "Current reactions to a post or reply: counts by reaction and who reacted",
        params: IdParams,
        response: {
          200: Type.Object({
            counts: Type.Record(Type.String(), Type.Integer()),
            items: Type.Array(
              Type.Object({
                wallet: Type.String(),
                reaction: Type.String(),
                ts: Type.Integer(),
                action: Type.String(),
              }),
            ),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => await reactionsOf(ctx.storage.db, req.params.id),
  );
}
