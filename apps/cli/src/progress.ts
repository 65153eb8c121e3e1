/** Progress bars for long work, on stderr, only when a person is watching. */
import cliProgress from "cli-progress";
import type { Context } from "./context.js";

export interface Progress {
  increment(n?: number): void;
  stop(): void;
}

export function progressBar(ctx: Context, label: string, total: number): Progress {
  if (ctx.out.json || process.stderr.isTTY !== true || total < 2) {
    return { increment() {}, stop() {} };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(12)} {bar} {value}/{total}  {percentage}%  {rate}/s  eta {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let done = 0;
  bar.start(total, 0, { rate: "0" });
  return {
    increment(n = 1) {
      done += n;
      const rate = (done / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(0);
      bar.update(done, { rate });
    },
    stop() {
      bar.stop();
    },
  };
}
