/**
 * Writes the interop test vectors to packages/protocol/test-vectors/<name>.json.
 * Usage: npm run vectors
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { generateVectors, serializeVectorFile } from "./vectors.js";

const dir = fileURLToPath(new URL("../test-vectors/", import.meta.url));
const files = await generateVectors();
mkdirSync(dir, { recursive: true });
// A file the generator no longer produces would otherwise linger and be replayed.
for (const name of readdirSync(dir)) {
  if (name.endsWith(".json") && !(name.slice(0, -5) in files)) rmSync(`${dir}${name}`);
}
for (const [name, content] of Object.entries(files)) {
  writeFileSync(`${dir}${name}.json`, serializeVectorFile(content));
  console.log(`wrote test-vectors/${name}.json`);
}
