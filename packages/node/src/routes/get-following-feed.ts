import type { NodeContext } from "../context.js";
import { followingFeed } from "../reads.js";
import { ErrorBody, PageQuery, PostPage, WalletParams } from "../schemas.js";
import type { App } from "../server.js";

export function getFollowingFeed(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/wallets/:wallet/following-feed",
    {
      schema: {
        summary: "Posts of the wallets this wallet follows, newest first",
        params: WalletParams,
        querystring: PageQuery,
        response: { 200: PostPage, "4xx": ErrorBody },
      },
    },
    async (req) => await followingFeed(ctx.storage.db, req.params.wallet, req.query),
  );
}
