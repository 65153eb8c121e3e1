import { ErrorCode, ProtocolError } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { getGrant as readGrant } from "../reads.js";
import { ErrorBody, IdParams } from "../schemas.js";
import type { App } from "../server.js";

export function getGrant(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/grants/:id",
    {
      schema: {
        summary:
          "A grant as the wallet signed it, so a reader can verify the session key behind any action",
        params: IdParams,
        response: {
          200: Type.Object({
            id: Type.String(),
            wallet: Type.String(),
            text: Type.String(),
            signature: Type.String(),
            form: Type.String(),
            transaction: Type.Union([Type.String(), Type.Null()]),
          }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => {
      const g = await readGrant(ctx.storage.db, req.params.id);
      if (g === undefined)
        throw new ProtocolError(ErrorCode.NOT_FOUND, { what: `grant ${req.params.id}` });
      return g;
    },
  );
}
