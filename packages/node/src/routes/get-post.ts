import { ErrorCode, ProtocolError } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { getPost as readPost } from "../reads.js";
import { ErrorBody, IdParams } from "../schemas.js";
import type { App } from "../server.js";

export function getPost(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/posts/:id",
    {
      schema: {
        summary: "A post or reply, with its reply and reaction counts",
        params: IdParams,
        response: { 200: Type.Ref("ServedPost"), "4xx": ErrorBody },
      },
    },
    async (req) => {
      const post = await readPost(ctx.storage.db, req.params.id);
      if (post === undefined)
        throw new ProtocolError(ErrorCode.NOT_FOUND, { what: `post ${req.params.id}` });
      return post;
    },
  );
}
