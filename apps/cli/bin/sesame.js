#!/usr/bin/env node
// The `sesame` command. Runs the built CLI (apps/cli/dist, made by `tsc -b`, which the
// root `prepare` script runs on `npm ci`). In a checkout that was never built it runs the
// TypeScript source through tsx instead, so the command works either way.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const built = new URL("../dist/main.js", import.meta.url);
if (existsSync(fileURLToPath(built))) {
  const { main } = await import(built.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));
  let tsx;
  try {
    tsx = createRequire(import.meta.url).resolve("tsx");
  } catch {
    console.error("sesame: not built yet; run `npm run build` (or `npx tsc -b`) first");
    process.exit(70);
  }
  const result = spawnSync(
    process.execPath,
    [
      "--import",
      pathToFileURL(tsx).href,
      "--conditions",
      "source",
      source,
      ...process.argv.slice(2),
    ],
    { stdio: "inherit" },
  );
  process.exit(result.status ?? 1);
}
