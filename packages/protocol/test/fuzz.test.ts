/**
 * Bounded fuzzing of every decoder and verifier of the protocol (the targets of
 * scripts/fuzz.ts): random and mutated inputs never throw anything but a ProtocolError,
 * and nothing that nobody signed, or that does not re-render, is ever accepted.
 * `npm run fuzz -- --runs N` runs the same targets for longer.
 */
import { describe, expect, it } from "vitest";
import { formatTally, protocolTargets, runFuzz } from "../scripts/fuzz.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const targets = await protocolTargets();

describe("fuzzing the protocol's decoders and verifiers", () => {
  it.each(targets.map((t) => [t.name, t] as const))(
    "%s: no crash, nothing invalid accepted",
    async (_name, target) => {
      const tally = await runFuzz(target, { runs: RUNS, seed: 42 });
      expect(tally.examples, formatTally(tally)).toEqual([]);
      expect(tally).toMatchObject({ cases: RUNS, crashes: 0, invalidAccepted: 0 });
      // The mutators reach past the first check: several distinct refusals (the encodings
      // and canonical JSON have one refusal code each).
      if (target.name !== "encodings" && target.name !== "canonical-json")
        expect(Object.keys(tally.refused).length, formatTally(tally)).toBeGreaterThan(1);
      console.log(formatTally(tally));
    },
  );
});
