import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { profile } from "../reads.js";
import { ErrorBody, WalletParams } from "../schemas.js";
import type { App } from "../server.js";

export function getProfile(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/wallets/:wallet/profile",
    {
      schema: {
        summary: "A wallet's profile with its post, follower and following counts",
        params: WalletParams,
        response: {
          200: Type.Object({
            wallet: Type.String(),
            displayName: Type.String(),
            bio: Type.String(),
            avatarUrl: Type.String(),
            updatedBy: Type.Union([Type.String(), Type.Null()]),
            posts: Type.Integer(),
            followers: Type.Integer(),
            following: Type.Integer(),
            action: Type.Union([Type.Ref("ServedAction"), Type.Null()]),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => await profile(ctx.storage.db, req.params.wallet),
  );
}
