/**
 * `npm run bench -- <name>`: runs one benchmark, prints its figures beside a baseline
 * measured in the same run, and writes them to bench/results/<name>.json (sync: one file
 * per engine, sync-<engine>.json).
 *
 * `npm run bench` (no name): runs every benchmark, in quick mode unless `--full`, and
 * writes bench/results/<date>.json (all figures) and bench/results/<date>.md (each
 * headline figure beside its same-run baseline). Adding a benchmark is one entry below.
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

type Figures = Record<string, unknown>;

/** One headline figure of the summary, beside the same-run baseline it is read against. */
export interface SummaryRow {
  readonly figure: string;
  readonly value: number | string;
  readonly baseline: string;
  readonly baselineValue: number | string;
}

interface Bench {
  readonly run: () => Promise<Figures>;
  /** Arguments that make the quick mode of `npm run bench` (no name). */
  readonly quick: readonly string[];
  readonly summary: (f: Figures) => SummaryRow[];
  /** The results file's name when one run measures one of several variants (default: the bench's). */
  readonly file?: (f: Figures) => string;
}

// Figures are read loosely: a missing one shows as "n/a" instead of failing the run.
const at = (f: unknown, ...path: string[]): number | string => {
  let v: unknown = f;
  for (const key of path) v = (v as Record<string, unknown> | undefined)?.[key];
  return typeof v === "number" || typeof v === "string" ? v : "n/a";
};

const BENCHES: Record<string, Bench> = {
  verify: {
    run: verifyBench,
    quick: [],
    summary: (f) => [
      {
        figure: "verifyAction/s (node:crypto)",
        value: at(f, "verifyActionNodePerSec"),
        baseline: "raw Ed25519 verify/s",
        baselineValue: at(f, "rawNodeCryptoPerSec"),
      },
      {
        figure: "verifyAction/s (WebCrypto)",
        value: at(f, "verifyActionWebPerSec"),
        baseline: "raw WebCrypto verify/s",
        baselineValue: at(f, "rawWebCryptoPerSec"),
      },
    ],
  },
  ingest: {
    run: ingestBench,
    quick: ["--sessions=100", "--per-session=100"],
    summary: (f) =>
      ["postgres", "pglite"].map((engine) => ({
        figure: `accepted actions/s over HTTP (${engine})`,
        value: at(f, engine, "acceptedPerSec"),
        baseline: "raw Ed25519 verify/s, one core",
        baselineValue: at(f, "rawVerifyPerSecOneCore"),
      })),
  },
  read: {
    run: readBench,
    quick: ["--posts=50000", "--wallets=1000", "--requests=300"],
    summary: (f) => {
      const endpoints = (f.endpoints ?? {}) as Record<string, unknown>;
      const floor = Object.keys(endpoints).find((k) => k.includes("/health"));
      return Object.keys(endpoints)
        .filter((k) => k !== floor)
        .map((k) => ({
          figure: `${k} p99 ms`,
          value: at(endpoints, k, "p99Ms"),
          baseline: "GET /health p99 ms",
          baselineValue: floor === undefined ? "n/a" : at(endpoints, floor, "p99Ms"),
        }));
    },
  },
  session: {
    run: sessionBench,
    quick: ["--sessions=60"],
    summary: (f) => [
      ...["start", "restart"].map((step) => ({
        figure: `funded session ${step} + grant accepted by a node p99 ms (goal < 150)`,
        value: at(f, "node", step, "p99"),
        baseline: "SOL transfer through the node's /rpc p99 ms",
        baselineValue: at(f, "node", "transfer", "p99"),
      })),
      ...["start", "restart", "transfer"].map((step) => ({
        figure: `funded session ${step} over HTTP p99 ms`,
        value: at(f, "http", step, "p99"),
        baseline: `the same in process p99 ms`,
        baselineValue: at(f, "inProcess", step, "p99"),
      })),
    ],
  },
  sync: {
    run: syncBench,
    // One file per engine: a PGlite run must not overwrite the PostgreSQL figures.
    file: (f) => `sync-${String(f.engine)}`,
    quick: ["--sessions=40", "--per-session=250"],
    summary: (f) => [
      {
        figure: `federation catch-up messages/s (${String(f.engine)})`,
        value: at(f, "catchUpPerSec"),
        baseline: "single-node ingest over HTTP, same run, msgs/s",
        baselineValue: at(f, "ingestPerSec"),
      },
    ],
  },
};

const here = dirname(fileURLToPath(import.meta.url));

function machine() {
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

function ratio(row: SummaryRow): string {
  return typeof row.value === "number" && typeof row.baselineValue === "number"
    ? (row.value / row.baselineValue).toFixed(2)
    : "n/a";
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    // Without this, `--help` (not a name) would start every benchmark.
    console.log(
      [
        "npm run bench                 every benchmark in quick mode; writes bench/results/<date>.json",
        "                              and bench/results/<date>.md (each figure beside its same-run baseline)",
        "npm run bench -- --full       every benchmark at full size, same files",
        "npm run bench -- <name> [...] one benchmark with its own options; writes bench/results/<name>.json",
        `benchmarks: ${Object.keys(BENCHES).join(", ")}`,
      ].join("\n"),
    );
    return;
  }
  const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}`,
    );
    process.exit(2);
  }
  const all = names.length === 0;
  const full = process.argv.includes("--full");
  const started = new Date();
  const results: Record<string, { figures: Figures; seconds: number }> = {};
  const argv = [...process.argv];
  for (const name of all ? Object.keys(BENCHES) : names) {
    const bench = BENCHES[name] as Bench;
    // The benchmarks read `--name=value` from process.argv: quick mode adds its own.
    if (all && !full) process.argv = [...argv, ...bench.quick];
    console.log(`\n# bench ${name}${all && !full ? " (quick)" : ""}`);
    const t0 = performance.now();
    const figures = await bench.run();
    process.argv = argv;
    results[name] = { figures, seconds: Math.round((performance.now() - t0) / 1000) };
    if (!all) {
      const base = bench.file?.(figures) ?? name;
      const file = join(here, "results", `${base}.json`);
      mkdirSync(dirname(file), { recursive: true });
      const result = { bench: name, at: new Date().toISOString(), machine: machine(), figures };
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      console.log(`written to bench/results/${base}.json`);
    }
  }
  if (!all) return;

  const stamp = started
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z");
  const mode = full ? "full" : "quick";
  const json = join(here, "results", `${stamp}.json`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(
    json,
    `${JSON.stringify({ at: started.toISOString(), mode, machine: machine(), results }, null, 2)}\n`,
  );
  const lines = [
    `# Benchmarks, ${started.toISOString()} (${mode} mode)`,
    "",
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown"}, Node ${process.version}, load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")} (a shared machine: read ratios, not absolutes).`,
    "",
    "| benchmark | figure | value | same-run baseline | baseline value | ratio |",
    "|---|---|---:|---|---:|---:|",
  ];
  for (const [name, r] of Object.entries(results)) {
    for (const row of (BENCHES[name] as Bench).summary(r.figures)) {
      lines.push(
        `| ${name} | ${row.figure} | ${row.value} | ${row.baseline} | ${row.baselineValue} | ${ratio(row)} |`,
      );
    }
  }
  lines.push("", "| benchmark | seconds |", "|---|---:|");
  for (const [name, r] of Object.entries(results)) lines.push(`| ${name} | ${r.seconds} |`);
  const md = join(here, "results", `${stamp}.md`);
  writeFileSync(md, `${lines.join("\n")}\n`);
  console.log(`\nwritten to bench/results/${stamp}.json and bench/results/${stamp}.md`);
  console.log(lines.join("\n"));
}

await main();
