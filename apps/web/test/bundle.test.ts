/**
 * The built web app takes the funds tier from `@sesame/solana/client` only: no LiteSVM
 * (a native module), no Fastify, nothing of Node. Read from the build's source map.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ASSETS = resolve(import.meta.dirname, "../dist/assets");
const built = existsSync(ASSETS) && readdirSync(ASSETS).some((f) => f.endsWith(".js.map"));

describe.skipIf(!built)("the web app's bundle", () => {
  it("holds the browser-safe funds tier and no server code", () => {
    const sources = readdirSync(ASSETS)
      .filter((f) => f.endsWith(".js.map"))
      .flatMap(
        (f) => (JSON.parse(readFileSync(join(ASSETS, f), "utf8")) as { sources: string[] }).sources,
      );
    const has = (part: string) => sources.some((s) => s.includes(part));
    expect(has("packages/solana/src/session.ts")).toBe(true);
    expect(has("packages/client/src/funds.ts")).toBe(true);
    for (const server of [
      "node_modules/litesvm",
      "node_modules/fastify",
      "packages/solana/src/embedded/",
      "packages/solana/src/fastify.ts",
      "packages/node/",
    ]) {
      expect(has(server), server).toBe(false);
    }
  });
});
