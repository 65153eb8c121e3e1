/**
 * Mounts a JSON-RPC handler (the embedded chain's) at POST /rpc in a Fastify app. The body
 * is read as text and answered as JSON-RPC, always with HTTP 200 as Solana's RPC does
 * (kit treats a non-2xx answer as a transport failure). Registered as an encapsulated
 * plugin: its content-type parser does not leak into the rest of the app.
 */
import type { FastifyInstance, FastifyPluginAsync } from "fastify";

export interface RpcHandlerLike {
  handleRpc(body: unknown): Promise<string>;
}

export interface RpcPluginOptions {
  readonly chain: RpcHandlerLike;
  /** Default `/rpc`. */
  readonly path?: string;
  /** Largest request body, bytes. Default 64 KiB (a transaction is at most ~1.7 KB encoded). */
  readonly bodyLimit?: number;
}

export const solanaRpcPlugin: FastifyPluginAsync<RpcPluginOptions> = async (
  app: FastifyInstance,
  options: RpcPluginOptions,
) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
  app.post(
    options.path ?? "/rpc",
    { bodyLimit: options.bodyLimit ?? 64 * 1024 },
    async (req, reply) => {
      const answer = await options.chain.handleRpc(req.body ?? "");
      return reply.header("content-type", "application/json; charset=utf-8").send(answer);
    },
  );
};
