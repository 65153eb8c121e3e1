import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { App } from "./server.js";

/**
 * Serves the built web app (apps/web/dist) at `/`, beside the API. Returns false when the
 * directory holds no build. Call before the server starts listening.
 */
export async function serveWebApp(app: App, dir: string): Promise<boolean> {
  if (!existsSync(join(dir, "index.html"))) return false;
  await app.register(fastifyStatic, { root: dir, prefix: "/", index: ["index.html"], maxAge: 0 });
  return true;
}
