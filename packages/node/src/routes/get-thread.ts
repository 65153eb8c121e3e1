import { ErrorCode, ProtocolError } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { thread } from "../reads.js";
import { ErrorBody, IdParams, PageQuery, PostPage } from "../schemas.js";
import type { App } from "../server.js";

export function getThread(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/posts/:id/thread",
    {
      schema: {
        summary: "The thread a post or reply belongs to: its root and every reply, oldest first",
        description: "Replies page forward: pass `next` as `cursor` for the following page.",
        params: IdParams,
        querystring: PageQuery,
        response: {
          200: Type.Object({ root: Type.Ref("ServedPost"), replies: PostPage }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => {
      const t = await thread(ctx.storage.db, req.params.id, req.query);
      if (t === undefined)
        throw new ProtocolError(ErrorCode.NOT_FOUND, { what: `post ${req.params.id}` });
      return t;
    },
  );
}
