import type { App } from "../server.js";

export function getOpenapi(app: App): void {
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
