/**
 * `npm run crash -- [--rounds 50] [--engine postgres|pglite|both] [--clients 4]`: the crash
 * test of scripts/crash-test.ts, per engine; prints rounds, acked, found, lost and
 * overruns. Exits 1 when anything was lost, overrun or inconsistent.
 */
import { parseArgs } from "node:util";
import type { Engine } from "../../../bench/lib.js";
import { type CrashSummary, crashTest } from "./crash-test.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "50" },
    engine: { type: "string", default: "both" },
    clients: { type: "string", default: "4" },
    quiet: { type: "boolean", default: false },
  },
});
const engines: Engine[] =
  values.engine === "both" ? ["postgres", "pglite"] : [values.engine as Engine];
const summaries: CrashSummary[] = [];
for (const engine of engines) {
  const summary = await crashTest({
    engine,
    rounds: Number(values.rounds),
    clients: Number(values.clients),
    log: (line) => {
      if (!values.quiet) console.log(line);
    },
  });
  summaries.push(summary);
  const answers = Object.entries(summary.answers)
    .map(([k, v]) => `${k}:${v}`)
    .join(" ");
  const waits = [...summary.killAfterAckMs].sort((a, b) => a - b);
  const at = (q: number) => waits[Math.min(waits.length - 1, Math.floor(q * waits.length))] ?? 0;
  console.log(
    `${engine}: rounds ${summary.rounds}, acked ${summary.acked}, found ${summary.found}, lost ${summary.lost}, overruns ${summary.overruns}, inconsistencies ${summary.inconsistencies}; killed after the first ack: min ${at(0)} / median ${at(0.5)} / max ${at(1)} ms, rounds killed before any ack ${summary.killedBeforeAck}; answers ${answers}`,
  );
  for (const p of summary.problems) console.log(`  ${p}`);
}
process.exit(summaries.some((s) => s.lost + s.overruns + s.inconsistencies > 0) ? 1 : 0);
