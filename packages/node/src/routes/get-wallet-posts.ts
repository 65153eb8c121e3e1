import type { NodeContext } from "../context.js";
import { walletPosts } from "../reads.js";
import { ErrorBody, PageQuery, PostPage, WalletParams } from "../schemas.js";
import type { App } from "../server.js";

export function getWalletPosts(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/wallets/:wallet/posts",
    {
      schema: {
        summary: "A wallet's posts, newest first",
        params: WalletParams,
        querystring: PageQuery,
        response: { 200: PostPage, "4xx": ErrorBody },
      },
    },
    async (req) => await walletPosts(ctx.storage.db, req.params.wallet, req.query),
  );
}
