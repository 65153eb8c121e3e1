/**
 * `sesame sync` and `sesame peers` as real subprocesses (the built bin) against two real
 * nodes on PostgreSQL (own schemas), the second pulling the first.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createNode, type SesameNode } from "@sesame/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accept,
  NOW,
  postBody,
  session,
  type TestDatabase,
  testDatabase,
} from "../../../packages/node/test/helpers.js";
import { TEST_CONTEXT } from "../../../packages/protocol/scripts/fixtures.js";

const ROOT = join(import.meta.dirname, "../../..");
const BIN = join(ROOT, "apps/cli/bin/sesame.js");

function sesame(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("sesame sync and sesame peers", () => {
  const dbs: TestDatabase[] = [];
  const nodes: SesameNode[] = [];
  let a = "";
  let b = "";
  let c = "";

  beforeAll(async () => {
    const start = async (peers: string[], intervalMs: number) => {
      const db = await testDatabase("postgres");
      dbs.push(db);
      const node = await createNode({
        database: await db.open(),
        config: { verify: TEST_CONTEXT },
        clock: () => NOW,
        peers,
        sync: { intervalMs, nudge: false, log: () => {} },
      });
      nodes.push(node);
      return await node.app.listen({ port: 0, host: "127.0.0.1" });
    };
    a = await start([], 1000);
    // b pulls a only rarely by itself: `sesame sync` makes it pull now.
    b = await start([a], 3_600_000);
    // c starts with no peers: the CLI adds and removes them.
    c = await start([], 3_600_000);
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await n.close();
    for (const d of dbs) await d.cleanup();
  });

  it("sync pulls every peer now and reports the node in sync; peers lists cursors and counts", async () => {
    const alice = await session(a, "alice-cli-sync");
    for (let i = 0; i < 5; i++) await accept(a, alice.sign("post", postBody(`post ${i}`)));
    const run = await sesame(["--node", b, "--json", "sync", "--timeout", "60"]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as {
      inSync: boolean;
      applied: number;
      peers: { url: string; accepted: number; lag: number; cursor: number; head: number }[];
    };
    expect(result.inSync).toBe(true);
    // What this run pulled: b's first round at start may already have taken some of the
    // six (a grant and five posts); all six are on b by now (`accepted` below).
    expect(result.applied).toBeGreaterThanOrEqual(0);
    expect(result.applied).toBeLessThanOrEqual(6);
    expect(result.peers).toHaveLength(1);
    expect(result.peers[0]).toMatchObject({ url: a, accepted: 6, lag: 0 });
    // b now serves what alice posted on a.
    const feed = (await (await fetch(`${b}/v1/feed`)).json()) as { items: unknown[] };
    expect(feed.items).toHaveLength(5);

    const peers = await sesame(["--node", b, "peers"]);
    expect(peers.code, peers.stderr).toBe(0);
    expect(peers.stdout).toContain(a);
    expect(peers.stdout).toMatch(/in sync/);
    const human = await sesame(["--node", b, "sync"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/in sync with 1 peer/);
  }, 120_000);

  it("peers on a node without peers says how to add them; help describes both", async () => {
    const none = await sesame(["--node", a, "peers"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/no peers/);
    const help = await sesame(["sync", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/pull every peer now/);
    const unreachable = await sesame(["--node", "http://127.0.0.1:1", "peers"]);
    expect(unreachable.code).toBe(3);
  }, 60_000);

  it("peers add and remove change a running node's peers; sync prints progress lines without a terminal; refusals print code and hint", async () => {
    const bob = await session(a, "bob-cli-peers");
    for (let i = 0; i < 3; i++) await accept(a, bob.sign("post", postBody(`bob ${i}`)));
    const added = await sesame(["--node", c, "--json", "peers", "add", a]);
    expect(added.code, added.stderr).toBe(0);
    const list = JSON.parse(added.stdout) as { peers: { url: string; configured: boolean }[] };
    expect(list.peers).toEqual([expect.objectContaining({ url: a, configured: false })]);

    // stdout and stderr are pipes here: progress comes as lines on stderr, the table on stdout.
    const synced = await sesame(["--node", c, "sync", "--timeout", "60"]);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stderr).toMatch(/^sync: pulling 1 peer\(s\), \d+ log entries behind$/m);
    expect(synced.stderr).toMatch(/^sync: \d+\/\d+ log entries applied in \d+ ms$/m);
    expect(synced.stdout).toMatch(/in sync with 1 peer/);
    const feed = (await (await fetch(`${c}/v1/feed`)).json()) as {
      items: { id: string }[];
    };
    expect(feed.items.length).toBeGreaterThanOrEqual(3);

    const removed = await sesame(["--node", c, "peers", "remove", a]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/no longer pulling/);
    // Not pulled any more: an unknown peer now, refused with its code and a hint.
    const again = await sesame(["--node", c, "peers", "remove", a]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error 6001 NOT_FOUND/);
    expect(again.stderr).toMatch(/hint: /);
    // b pulls a by configuration: it cannot be removed at run time.
    const configured = await sesame(["--node", b, "peers", "remove", a]);
    expect(configured.code).toBe(1);
    expect(configured.stderr).toMatch(/error 1002 INVALID_FIELD/);
    expect(configured.stderr).toMatch(/hint: .*restart the node without it/);
    const bad = await sesame(["--node", c, "--json", "peers", "add", "ftp://example.org"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, error: { code: 1002 } });

    const help = await sesame(["--help"]);
    expect(help.stdout).toMatch(/^\s+peers\b/m);
    expect(help.stdout).toMatch(/^\s+sync\b/m);
    const peersHelp = await sesame(["peers", "--help"]);
    expect(peersHelp.stdout).toMatch(/^\s+add <url>/m);
    expect(peersHelp.stdout).toMatch(/^\s+remove <url>/m);
  }, 120_000);
});
