import {
  type ActionPayload,
  actionSigningBytes,
  type Signature,
  type SignedAction,
  toBase58,
} from "@sesame/protocol";
import type { Command } from "commander";
import { throwawayActor } from "../actors.js";
import { CliError, EXIT, table } from "../output.js";
import { progressBar } from "../progress.js";
import { action } from "../run.js";
import { buildPolicy } from "./session.js";

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/**
 * Client-side throughput against a running node, with a throwaway wallet (its one
 * signature is the only prompt, and it is not yours): posts one at a time through the SDK
 * (signing, durable counters, one round trip each), then pre-signed posts sent in batches.
 */
export function benchCommands(program: Command): void {
  program
    .command("bench")
    .description("client-side throughput against a node: posts one by one, then in batches")
    .option("--actions <n>", "posts per phase", (v) => Number.parseInt(v, 10), 200)
    .option(
      "--batch <n>",
      "posts per request in the batched phase (at most 100)",
      (v) => Number.parseInt(v, 10),
      50,
    )
    .addHelpText(
      "after",
      "\nA throwaway wallet and in-memory session are used; nothing of yours is signed.\nThe repository's node benchmarks are `npm run bench` (results in bench/results/).",
    )
    .action(
      action<[], { actions: number; batch: number }>(async (ctx, o) => {
        if (!(o.actions > 0) || !(o.batch > 0 && o.batch <= 100)) {
          throw new CliError(EXIT.USAGE, "--actions must be positive and --batch 1..100");
        }
        const health = await ctx.api.health();
        const network = { chain: health.chain, network: health.network };
        const actor = await throwawayActor(
          ctx.api,
          network,
          "bench.sesame.local",
          "sesame bench",
          buildPolicy({
            scopes: ["post"],
            cap: { post: null },
            rate: { post: null },
            duration: 3_600_000,
          }),
        );

        // Phase 1: one by one through the SDK.
        const latencies: number[] = [];
        let bar = progressBar(ctx, "one by one", o.actions);
        const t1 = performance.now();
        for (let i = 0; i < o.actions; i++) {
          const t = performance.now();
          const r = await actor.social.post(`bench post ${i}`);
          if (r.status !== "accepted")
            throw new CliError(EXIT.UNREACHABLE, "the node stopped answering");
          latencies.push(performance.now() - t);
          bar.increment();
        }
        const sequentialS = (performance.now() - t1) / 1000;
        bar.stop();
        latencies.sort((a, b) => a - b);

        // Phase 2: sign first (counters reserved as the SDK does), then send in batches.
        const session = await actor.manager.resume();
        if (session === undefined) throw new CliError(EXIT.INTERNAL, "the bench session is gone");
        const signed: SignedAction[] = [];
        const t2 = performance.now();
        for (let i = 0; i < o.actions; i++) {
          const { seq, ord } = await actor.store.reserve(session.slot, "post");
          const payload = {
            v: 1,
            kind: "post",
            grant: session.grantId,
            seq,
            ord,
            ts: Date.now(),
            body: { text: `bench batched ${i}`, links: [], mentions: [] },
          } as ActionPayload;
          signed.push({
            payload,
            signature: toBase58(await session.keys.sign(actionSigningBytes(payload))) as Signature,
          });
        }
        const signS = (performance.now() - t2) / 1000;
        bar = progressBar(ctx, "batched", o.actions);
        const t3 = performance.now();
        let refused = 0;
        for (let i = 0; i < signed.length; i += o.batch) {
          const batch = signed.slice(i, i + o.batch);
          const results = await ctx.api.postActions(batch);
          refused += results.filter((r) => !r.ok).length;
          bar.increment(batch.length);
        }
        const batchedS = (performance.now() - t3) / 1000;
        bar.stop();
        await actor.manager.revoke().catch(() => {});

        const report = {
          node: ctx.nodeUrl,
          engine: health.engine,
          actions: o.actions,
          oneByOne: {
            seconds: round(sequentialS, 3),
            perSecond: round(o.actions / sequentialS),
            p50Ms: round(percentile(latencies, 50), 2),
            p95Ms: round(percentile(latencies, 95), 2),
          },
          signing: { seconds: round(signS, 3), perSecond: round(o.actions / signS) },
          batched: {
            batch: o.batch,
            seconds: round(batchedS, 3),
            perSecond: round(o.actions / batchedS),
            refused,
          },
        };
        ctx.out.result(report, () =>
          [
            `bench against ${ctx.nodeUrl} (${health.engine}), ${o.actions} posts per phase`,
            table(
              ["PHASE", "POSTS/S", "DETAIL"],
              [
                [
                  "one by one (SDK)",
                  String(report.oneByOne.perSecond),
                  `p50 ${report.oneByOne.p50Ms} ms, p95 ${report.oneByOne.p95Ms} ms`,
                ],
                [
                  "signing only",
                  String(report.signing.perSecond),
                  "session key, counters reserved",
                ],
                [
                  `batched (${o.batch}/request)`,
                  String(report.batched.perSecond),
                  `${(report.batched.perSecond / report.oneByOne.perSecond).toFixed(1)}× one by one${refused > 0 ? `, ${refused} refused` : ""}`,
                ],
              ],
            ),
          ].join("\n"),
        );
      }),
    );
}
