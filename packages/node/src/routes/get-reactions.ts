import { ErrorCode, ProtocolError } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { reactionsOf } from "../reads.js";
import { ErrorBody, IdParams, PageQuery } from "../schemas.js";
import type { App } from "../server.js";

export function getReactions(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/posts/:id/reactions",
    {
      schema: {
        summary:
          "Current reactions to a post or reply: counts by reaction (all of them) and who reacted (each with its signed react action), newest first, paged",
        params: IdParams,
        querystring: PageQuery,
        response: {
          200: Type.Object({
            counts: Type.Record(Type.String(), Type.Integer()),
            items: Type.Array(
              Type.Object({
                wallet: Type.String(),
                reaction: Type.String(),
                ts: Type.Integer(),
                action: Type.String(),
                logId: Type.Integer(),
                signed: Type.Ref("ServedAction"),
              }),
            ),
            next: Type.Union([Type.String(), Type.Null()]),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => {
      const page = await reactionsOf(ctx.storage.db, req.params.id, req.query);
      if (page === undefined)
        throw new ProtocolError(ErrorCode.NOT_FOUND, { what: `post ${req.params.id}` });
      return page;
    },
  );
}
