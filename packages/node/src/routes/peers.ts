import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import type { App } from "../server.js";

const PeerStatus = Type.Object({
  url: Type.String(),
  cursor: Type.Integer({ description: "the peer's log id this node has applied up to" }),
  head: Type.Integer({ description: "the peer's newest log id, as of the last page" }),
  lag: Type.Integer(),
  pulled: Type.Integer(),
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  refused: Type.Integer(),
  refusedByCode: Type.Record(Type.String(), Type.Integer()),
  deferred: Type.Integer(),
  failures: Type.Integer(),
  backoffUntil: Type.Integer(),
  lastPullAt: Type.Union([Type.Integer(), Type.Null()]),
  lastOkAt: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
});

const PeersReply = Type.Object({
  intervalMs: Type.Union([Type.Integer(), Type.Null()]),
  peers: Type.Array(PeerStatus),
});

/** `GET /v1/peers` (status for the CLI) and `POST /v1/peers/sync` (pull every peer now). */
export function peerRoutes(app: App, ctx: NodeContext): void {
  const status = async () => ({
    intervalMs: ctx.federation?.intervalMs ?? null,
    peers: (await ctx.federation?.status()) ?? [],
  });
  app.get(
    "/v1/peers",
    {
      schema: {
        summary: "The peers this node pulls, with cursor, lag, counts and refusals by code",
        response: { 200: PeersReply },
      },
    },
    status,
  );
  app.post(
    "/v1/peers/sync",
    {
      schema: {
        summary: "Pull every peer now",
        description:
          "With `wait` (the default) it answers after one more round per peer; `wait=false` answers at once. A peer backed off for misbehaving waits its turn, unless the request comes from the node's own host (the operator's `sesame sync`): a stranger cannot make the node hammer a bad peer. Behind a reverse proxy on the same host, do not expose this route.",
        querystring: Type.Object({ wait: Type.Optional(Type.Boolean({ default: true })) }),
        response: { 200: PeersReply },
      },
    },
    async (req) => {
      const local = req.ip === "127.0.0.1" || req.ip === "::1" || req.ip === "::ffff:127.0.0.1";
      const round = ctx.federation?.syncNow({ cutBackoff: local });
      if (req.query.wait !== false) await round;
      return await status();
    },
  );
}
