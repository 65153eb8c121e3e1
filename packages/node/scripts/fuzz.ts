/**
 * `npm run fuzz -- [--runs N] [--targets a,b] [--seed S] [--engine pglite|postgres]
 * [--concurrency C]` (`--help` lists the targets): runs N cases of every fuzz target (the protocol's decoders and
 * verifiers, and the HTTP API of a real node) and prints the counts per target. Exits 1
 * on any crash, 5xx, invalid message accepted or stored.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import {
  FUZZ_NOW,
  formatTally,
  protocolTargets,
  runFuzz,
  type Tally,
} from "../../protocol/scripts/fuzz.js";
import { createNode, dropSchema } from "../src/index.js";
import { httpTarget } from "./fuzz-http.js";

const { values } = parseArgs({
  options: {
    help: { type: "boolean", short: "h", default: false },
    runs: { type: "string", default: "10000" },
    targets: { type: "string" },
    seed: { type: "string", default: "1" },
    engine: { type: "string", default: "postgres" },
    concurrency: { type: "string", default: "8" },
    "database-url": {
      type: "string",
      default: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    },
  },
});
const runs = Number(values.runs);
const seed = Number(values.seed);
const protocol = await protocolTargets();
if (values.help) {
  console.log(
    [
      "npm run fuzz -- [--runs N] [--targets a,b] [--seed S] [--engine pglite|postgres] [--concurrency C]",
      `targets: ${[...protocol.map((t) => t.name), "http"].join(", ")} (default: all)`,
      "http runs against a real listening node on --engine (default postgres).",
    ].join("\n"),
  );
  process.exit(0);
}
const names = values.targets?.split(",") ?? [...protocol.map((t) => t.name), "http"];
const tallies: Tally[] = [];
// On a terminal one line is rewritten in place; into a file or pipe (nohup, CI) each
// progress report is its own line with the elapsed time, so a log shows how a run went.
let started = performance.now();
const progress = (t: Tally) => {
  if (t.cases % 10_000 !== 0 && t.cases !== runs) return;
  if (process.stderr.isTTY) {
    process.stderr.write(`  ${t.target}: ${t.cases}/${runs}\r`);
    return;
  }
  const s = (performance.now() - started) / 1000;
  const bad = t.crashes + t.fiveXx + t.invalidAccepted;
  process.stderr.write(
    `  ${t.target}: ${t.cases}/${runs} (${s.toFixed(0)} s, crashes+5xx+invalid ${bad})\n`,
  );
};

for (const name of names) {
  started = performance.now();
  const target = protocol.find((t) => t.name === name);
  if (target !== undefined) {
    const tally = await runFuzz(target, { runs, seed, onProgress: progress });
    console.log(formatTally(tally));
    tallies.push(tally);
    continue;
  }
  if (name !== "http") throw new Error(`unknown target ${name}`);
  const schema = `fuzz_${process.pid}_${randomBytes(3).toString("hex")}`;
  const postgres = values.engine === "postgres";
  const node = await createNode({
    database: postgres ? { databaseUrl: values["database-url"], schema } : {},
    config: { verify: TEST_CONTEXT, rateLimitPerMinute: 1_000_000_000 },
    clock: () => FUZZ_NOW,
    // Tips are checked against a real (embedded, in-memory) chain, as on `npm start`.
    chain: "embedded",
  });
  try {
    const url = await node.app.listen({ port: 0, host: "127.0.0.1" });
    const tally = await runFuzz(await httpTarget(node, url), {
      runs,
      seed,
      concurrency: Number(values.concurrency),
      onProgress: progress,
    });
    console.log(`${formatTally(tally)} engine=${values.engine}`);
    tallies.push(tally);
  } finally {
    await node.close();
    if (postgres) await dropSchema(values["database-url"], schema);
  }
}
for (const t of tallies) for (const e of t.examples) console.log(`  ${t.target}: ${e}`);
const bad = tallies.some((t) => t.crashes + t.fiveXx + t.invalidAccepted + t.storedInvalid > 0);
process.exit(bad ? 1 : 0);
