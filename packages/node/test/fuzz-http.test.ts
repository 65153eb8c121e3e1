/**
 * Bounded fuzzing of the HTTP API (scripts/fuzz-http.ts) on both engines: random and
 * mutated bodies never get a 5xx or an answer without a code, and nothing that was not
 * validly signed is ever stored. `npm run fuzz -- --runs N --targets http` runs longer.
 */
import { describe, expect, it } from "vitest";
import { FUZZ_NOW, formatTally, runFuzz } from "../../protocol/scripts/fuzz.js";
import { httpTarget } from "../scripts/fuzz-http.js";
import { ENGINES, freshNode } from "./helpers.js";

const RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 600);

describe.each(ENGINES)("fuzzing the HTTP API on %s", (engine) => {
  it("no 5xx, every refusal coded, nothing invalid stored", { timeout: 120_000 }, async () => {
    const { node, url } = await freshNode(engine, {
      now: FUZZ_NOW,
      config: { rateLimitPerMinute: 1_000_000 },
      // Tips are checked against a real (embedded) chain: a fuzzed tip gets its 7xxx code.
      chain: "embedded",
    });
    const tally = await runFuzz(await httpTarget(node, url), { runs: RUNS, seed: 7 });
    console.log(formatTally(tally));
    expect(tally.examples, formatTally(tally)).toEqual([]);
    expect(tally).toMatchObject({ cases: RUNS, crashes: 0, fiveXx: 0, storedInvalid: 0 });
    expect(Object.keys(tally.refused).length).toBeGreaterThan(5);
  });
});
