import type { NodeContext } from "../context.js";
import { globalFeed } from "../reads.js";
import { ErrorBody, PageQuery, PostPage } from "../schemas.js";
import type { App } from "../server.js";

export function getFeed(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/feed",
    {
      schema: {
        summary: "The global feed: every visible post, newest first",
        querystring: PageQuery,
        response: { 200: PostPage, "4xx": ErrorBody },
      },
    },
    async (req) => await globalFeed(ctx.storage.db, req.query),
  );
}
