import { ErrorCode, ProtocolError } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import type { NodeContext } from "../context.js";
import { peerUrl } from "../federation.js";
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
  rounds: Type.Integer({ description: "pull rounds completed since this node process started" }),
  configured: Type.Boolean({
    description: "set at start (SESAME_PEERS), not added with POST /v1/peers",
  }),
});

const PeersReply = Type.Object({
  intervalMs: Type.Union([Type.Integer(), Type.Null()]),
  peers: Type.Array(PeerStatus),
});

const PeerBody = Type.Object(
  { url: Type.String({ minLength: 1, maxLength: 2048, description: "the peer's base URL" }) },
  { additionalProperties: false },
);

const LOCAL_ONLY =
  "Only from the node's own host (a loopback address); anything else is `6005` (HTTP 401). Behind a reverse proxy on the same host, do not expose this route.";

/** Operator routes answer only requests from the node's own host (loopback). */
function requireLoopback(req: FastifyRequest): void {
  const ip = req.ip;
  const local = ip === "::1" || /^(::ffff:)?127\./.test(ip);
  if (!local)
    throw new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, {
      reason: "only the node's own host may manage or trigger federation",
    });
}

function parseUrl(raw: string): string {
  try {
    return peerUrl(raw);
  } catch {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "url",
      reason: "must be an http(s) URL",
    });
  }
}

/**
 * `GET /v1/peers` (status for the CLI), `POST /v1/peers` and `DELETE /v1/peers` (add or
 * remove a peer at run time) and `POST /v1/peers/sync` (pull every peer now).
 */
export function peerRoutes(app: App, ctx: NodeContext): void {
  const status = async () => ({
    intervalMs: ctx.federation?.intervalMs ?? null,
    peers: (await ctx.federation?.status()) ?? [],
  });
  const federation = () => {
    if (ctx.federation === undefined)
      throw new ProtocolError(ErrorCode.UNAVAILABLE, { reason: "this node does not federate" });
    return ctx.federation;
  };
  app.get(
    "/v1/peers",
    {
      schema: {
        summary: "The peers this node pulls, with cursor, lag, rounds, counts and refusals by code",
        response: { 200: PeersReply },
      },
    },
    status,
  );
  app.post(
    "/v1/peers",
    {
      schema: {
        summary: "Start pulling a peer (kept across restarts)",
        description: `Answers 201 when the peer is new, 200 when this node already pulls it. A peer removed before resumes from its stored cursor. ${LOCAL_ONLY}`,
        body: PeerBody,
        response: { 200: PeersReply, 201: PeersReply },
      },
    },
    async (req, reply) => {
      requireLoopback(req);
      const added = await federation().addPeer(parseUrl(req.body.url));
      return reply.code(added ? 201 : 200).send(await status());
    },
  );
  app.delete(
    "/v1/peers",
    {
      schema: {
        summary: "Stop pulling a peer that was added with POST /v1/peers",
        description: `A peer configured at start (SESAME_PEERS) cannot be removed here (\`1002\`); one this node does not pull is \`6001\` (404). ${LOCAL_ONLY}`,
        body: PeerBody,
        response: { 200: PeersReply },
      },
    },
    async (req) => {
      requireLoopback(req);
      await federation().removePeer(parseUrl(req.body.url));
      return await status();
    },
  );
  app.post(
    "/v1/peers/sync",
    {
      schema: {
        summary: "Pull every peer now",
        description: `With \`wait\` (the default) it answers after one more round per peer; \`wait=false\` answers at once. A peer backed off for misbehaving is pulled too (the operator asked). ${LOCAL_ONLY}`,
        querystring: Type.Object({ wait: Type.Optional(Type.Boolean({ default: true })) }),
        response: { 200: PeersReply },
      },
    },
    async (req) => {
      requireLoopback(req);
      const round = ctx.federation?.syncNow({ cutBackoff: true });
      if (req.query.wait !== false) await round;
      return await status();
    },
  );
}
