/**
 * Three rounds per engine of the crash test (scripts/crash-test.ts): a node in a child
 * process, flooded by concurrent clients, killed with SIGKILL at random moments and
 * restarted on the same data. `npm run crash -- --rounds 50` runs it longer.
 */
import { describe, expect, it } from "vitest";
import { crashTest } from "../scripts/crash-test.js";
import { ENGINES } from "./helpers.js";

describe.each(ENGINES)("SIGKILL during a flood, restart on the same data (%s)", (engine) => {
  it("loses no acknowledged action, overruns no cap or rate, stays consistent", {
    timeout: 180_000,
  }, async () => {
    const summary = await crashTest({
      engine,
      rounds: 3,
      maxFloodMs: 1000,
      // Small caps, so that three short floods run into them.
      caps: { total: 3, perHour: 2 },
    });
    expect(summary.problems).toEqual([]);
    expect(summary).toMatchObject({ rounds: 3, lost: 0, overruns: 0, inconsistencies: 0 });
    expect(summary.found).toBe(summary.acked);
    expect(summary.acked).toBeGreaterThan(0);
    // Every kill came after the round's first ack, timed from it.
    expect(summary.killedBeforeAck).toBe(0);
    expect(summary.killAfterAckMs).toHaveLength(3);
    // The floods went past the caps and rates, and the node refused what was over.
    expect((summary.answers["4002"] ?? 0) + (summary.answers["4003"] ?? 0)).toBeGreaterThan(0);
  });
});
