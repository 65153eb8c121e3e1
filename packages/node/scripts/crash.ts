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
    help: { type: "boolean", short: "h", default: false },
    rounds: { type: "string", default: "50" },
    engine: { type: "string", default: "both" },
    clients: { type: "string", default: "4" },
    quiet: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    [
      "npm run crash -- [--rounds 50] [--engine postgres|pglite|both] [--clients 4] [--quiet]",
      "Per round: a node in a child process is flooded by --clients clients, killed with SIGKILL",
      "at a random moment and restarted on the same data; then every acknowledged action must be",
      "found, no cap or rate overrun, the database consistent. Prints rounds, acked, found, lost",
      "and overruns per engine; exits 1 when anything was lost, overrun or inconsistent.",
    ].join("\n"),
  );
  process.exit(0);
}
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
