/**
 * `npm run bench -- <name>`: runs one benchmark (or all with no name), prints its figures
 * beside a baseline measured in the same run, and writes them to bench/results/<name>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ingestBench } from "./ingest.js";
import { readBench } from "./read.js";
import { sessionBench } from "./session.js";
import { syncBench } from "./sync.js";
import { verifyBench } from "./verify.js";

type Bench = () => Promise<Record<string, unknown>>;
const BENCHES: Record<string, Bench> = {
  verify: verifyBench,
  ingest: ingestBench,
  read: readBench,
  session: sessionBench,
  sync: syncBench,
};

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}`,
    );
    process.exit(2);
  }
  for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
    const bench = BENCHES[name] as Bench;
    console.log(`\n# bench ${name}`);
    const figures = await bench();
    const result = {
      bench: name,
      at: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? "unknown",
        node: process.version,
      },
      figures,
    };
    const file = join(here, "results", `${name}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`written to bench/results/${name}.json`);
  }
}

await main();
