import type { NodeContext } from "../context.js";
import type { App } from "../server.js";

export function getMetrics(app: App, ctx: NodeContext): void {
  app.get(
    "/metrics",
    { config: { rateLimit: false }, schema: { summary: "Prometheus metrics", hide: true } },
    async (_req, reply) => reply.type("text/plain; version=0.0.4").send(ctx.metrics.render()),
  );
}
