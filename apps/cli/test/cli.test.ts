/**
 * The `sesame` command run as a real subprocess (the built bin) against a real node
 * listening on a port.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropSchema } from "@sesame/node";
import { ErrorCode } from "@sesame/protocol";
import type { Command } from "commander";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DATABASE_URL,
  dumpDatabase,
  ROOT,
  startTestNode,
  type TestNode,
} from "../../../packages/client/test/helpers.js";
import { buildProgram } from "../src/main.js";

const BIN = join(ROOT, "apps/cli/bin/sesame.js");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `sesame ...args` with a private HOME, no terminal, and `env` on top. */
function sesame(
  args: readonly string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, HOME: HOME_DIR, NO_COLOR: "1", ...env },
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
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
    if (input !== undefined) child.stdin?.end(input);
  });
}

function json<T = Record<string, unknown>>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** One person at one terminal: a wallet file, a keystore, a prompt log. */
function user(name: string, node: () => string, keypair?: string) {
  const dir = mkdtempSync(join(tmpdir(), `sesame-cli-${name}-`));
  const env = () => ({
    SESAME_NODE: node(),
    SESAME_KEYPAIR: keypair ?? join(dir, "id.json"),
    SESAME_KEYSTORE: join(dir, "keystore.json"),
    SESAME_PASSPHRASE: `passphrase of ${name}`,
    // The keypair wallet itself logs every signature it makes (one line each).
    SESAME_WALLET_SIGNATURE_LOG: join(dir, "signatures.log"),
  });
  return {
    dir,
    env,
    run: (args: readonly string[], input?: string) => sesame(args, env(), input),
    /** Wallet signatures so far, from the wallet's own log. */
    prompts(): number {
      return this.signatures().length;
    },
    /** The wallet's signature log: `time kind wallet signature` per line. */
    signatures(): { kind: string; wallet: string; signature: string }[] {
      try {
        return readFileSync(join(dir, "signatures.log"), "utf8")
          .split("\n")
          .filter(Boolean)
          .map((line) => {
            const [, kind, wallet, signature] = line.split(" ");
            return { kind: kind ?? "", wallet: wallet ?? "", signature: signature ?? "" };
          });
      } catch {
        return [];
      }
    },
  };
}

const HOME_DIR = mkdtempSync(join(tmpdir(), "sesame-cli-home-"));
let node: TestNode;

beforeAll(async () => {
  // The bin runs the built CLI: make sure it is built from the current source.
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-b", "apps/cli"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
  node = await startTestNode();
});
afterAll(async () => node?.close());

describe("sesame --help", { timeout: 120_000 }, () => {
  it("works for every command and subcommand", async () => {
    const paths: string[][] = [[]];
    const walk = (cmd: Command, prefix: string[]) => {
      for (const sub of cmd.commands) {
        const path = [...prefix, sub.name()];
        paths.push(path);
        walk(sub, path);
      }
    };
    walk(buildProgram(), []);
    expect(paths.map((p) => p.join(" "))).toEqual(
      expect.arrayContaining([
        "wallet new",
        "wallet show",
        "node start",
        "session start",
        "session list",
        "session revoke",
        "session revoke-all",
        "session renew",
        "post",
        "reply",
        "react",
        "follow",
        "profile set",
        "feed",
        "thread",
        "dm send",
        "dm inbox",
        "bench",
      ]),
    );
    for (let i = 0; i < paths.length; i += 6) {
      const runs = await Promise.all(
        paths.slice(i, i + 6).map(async (p) => ({ p, r: await sesame([...p, "--help"]) })),
      );
      for (const { p, r } of runs) {
        expect(r.code, p.join(" ")).toBe(0);
        expect(r.stdout).toContain(`Usage: sesame${p.length ? ` ${p.join(" ")}` : ""}`);
      }
    }
  });

  it("a usage error exits 2", async () => {
    expect((await sesame(["post", "--no-such-option"])).code).toBe(2);
    expect((await sesame(["no-such-command"])).code).toBe(2);
    const bad = await sesame(["session", "start", "--cap", "post=lots"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/scope=N/);
  });
});

describe("sesame against a node", { timeout: 120_000 }, () => {
  it("a session started from the CLI posts 100 times with ONE wallet signature", async () => {
    const alice = user("alice", () => node.url);
    expect((await alice.run(["wallet", "new"])).code).toBe(0);
    const { address } = json<{ address: string }>(await alice.run(["wallet", "show", "--json"]));

    const start = await alice.run([
      "session",
      "start",
      "--yes",
      "--scopes",
      "post,react",
      "--cap",
      "post=200",
      "--rate",
      "post=1000",
      "--duration",
      "2h",
      "--device",
      "CI runner",
    ]);
    expect(start.code).toBe(0);
    // The exact text the wallet signs is shown first.
    expect(start.stdout).toContain("cli.sesame.local wants you to start a Sesame session");
    expect(start.stdout).toContain("- post: at most 200 in total, at most 1000 per hour");
    expect(start.stdout).toContain("Device: CI runner");
    expect(alice.prompts()).toBe(1);

    // Five separate processes, then 95 posts from standard input: 100 posts.
    for (let i = 0; i < 5; i++) {
      const r = await alice.run(["post", `hello #${i}`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^posted \w+/);
    }
    const lines = Array.from({ length: 95 }, (_, i) => `line post #${i + 5}`).join("\n");
    const many = await alice.run(["post", "--stdin", "--json"], lines);
    expect(many.code, many.stderr).toBe(0);
    expect(json(many)).toMatchObject({ accepted: 95, queued: 0 });

    // One wallet signature in all, counted three independent ways: the wallet's own log of
    // what it signed, the node's grants for the wallet, and the node's posts.
    expect(alice.signatures()).toEqual([
      { kind: "message", wallet: address, signature: expect.any(String) },
    ]);
    const db = node.node.ctx.storage.db;
    const grants = (
      await sql<{
        signature: string;
      }>`select signature from grants where wallet = ${address}`.execute(db)
    ).rows;
    expect(grants).toEqual([{ signature: alice.signatures()[0]?.signature }]);
    const posts = (
      await sql<{ n: number }>`
        select count(*)::int as n from actions where wallet = ${address} and kind = 'post'`.execute(
        db,
      )
    ).rows[0]?.n;
    expect(posts).toBe(100);
    const list = json<{
      items: { used: Record<string, number>; thisDevice: boolean; device: string }[];
    }>(await alice.run(["session", "list", "--json"]));
    expect(list.items.length).toBe(1);
    expect(list.items[0]).toMatchObject({
      used: { post: 100 },
      thisDevice: true,
      device: "CI runner",
    });
    const feed = json<{ items: { wallet: string }[] }>(
      await alice.run(["feed", "--wallet", address, "--limit", "100", "--json"]),
    );
    expect(feed.items.length).toBe(100);
    expect(feed.items.every((i) => i.wallet === address)).toBe(true);

    // Human output: a table with relative times.
    const human = await alice.run(["feed", "--limit", "3"]);
    expect(human.stdout).toMatch(/^WHEN\s+AUTHOR\s+TEXT/);
    expect(human.stdout).toMatch(/just now|\ds ago/);
    const sessions = await alice.run(["session", "list"]);
    expect(sessions.stdout).toMatch(/CI runner\s+active\s+post 100\/200/);
  });

  it("a revoked session's next command fails with the revocation code (exit 1, error 4007 SESSION_REVOKED and a hint)", async () => {
    const keypairDir = mkdtempSync(join(tmpdir(), "sesame-cli-shared-"));
    const keypair = join(keypairDir, "id.json");
    const laptop = user("laptop", () => node.url, keypair);
    const phone = user("phone", () => node.url, keypair);
    await laptop.run(["wallet", "new"]);
    expect((await laptop.run(["session", "start", "--yes", "--device", "laptop"])).code).toBe(0);
    expect((await laptop.run(["post", "still fine"])).code).toBe(0);

    // From another device of the same wallet: revoke everything (one signature there).
    expect((await phone.run(["session", "start", "--yes", "--device", "phone"])).code).toBe(0);
    const all = await phone.run(["session", "revoke-all", "--json"]);
    expect(all.code).toBe(0);
    expect(json<{ revoked: string[] }>(all).revoked.length).toBe(2);
    expect(phone.prompts()).toBe(2);

    // The laptop does not know yet; the node refuses with the revocation code.
    const refused = await laptop.run(["post", "after revoke-all"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error ${ErrorCode.SESSION_REVOKED} SESSION_REVOKED`);
    expect(refused.stderr).toContain("hint: this session was revoked");
    const asJson = await laptop.run(["post", "again", "--json"]);
    expect(asJson.code).toBe(1);
    expect(json(asJson)).toMatchObject({
      ok: false,
      error: { code: 4007, name: "SESSION_REVOKED", hint: expect.any(String) },
    });

    // Revoked on this device: refused before anything is sent, same code.
    expect((await laptop.run(["session", "start", "--yes"])).code).toBe(0);
    expect((await laptop.run(["session", "revoke"])).code).toBe(0);
    const local = await laptop.run(["react", "someid"]);
    expect(local.code).toBe(1);
    expect(local.stderr).toContain("error 4007 SESSION_REVOKED");
    expect(laptop.prompts()).toBe(3); // start, start, revoke
  });

  it("DMs round-trip between two wallets with nothing readable on the node (every table dumped, no plaintext or any 6-character piece of it)", async () => {
    const alice = user("dm-alice", () => node.url);
    const bob = user("dm-bob", () => node.url);
    await alice.run(["wallet", "new"]);
    await bob.run(["wallet", "new"]);
    const bobAddress = json<{ address: string }>(
      await bob.run(["wallet", "show", "--json"]),
    ).address;
    const aliceAddress = json<{ address: string }>(
      await alice.run(["wallet", "show", "--json"]),
    ).address;
    expect((await alice.run(["session", "start", "--yes", "--scopes", "dm"])).code).toBe(0);
    expect((await bob.run(["session", "start", "--yes", "--scopes", "dm"])).code).toBe(0);

    const secret = "the rendezvous is pier 39 at dawn";
    const sent = await alice.run(["dm", "send", bobAddress, secret]);
    expect(sent.code, sent.stderr).toBe(0);
    const inbox = json<{ items: { from: string; to: string; text: string | null }[] }>(
      await bob.run(["dm", "inbox", "--json"]),
    );
    expect(inbox.items).toEqual([expect.objectContaining({ to: bobAddress, text: secret })]);
    const human = await bob.run(["dm", "inbox"]);
    expect(human.stdout).toMatch(/WHEN\s+FROM\s+TO\s+MESSAGE/);
    expect(human.stdout).toContain(secret);
    // The sender's session holds its own copy.
    expect(
      json<{ items: { text: string }[] }>(await alice.run(["dm", "inbox", "--json"])).items[0]
        ?.text,
    ).toBe(secret);

    // Bob answers; alice reads it.
    const reply = "ok, bring the blue umbrella";
    expect((await bob.run(["dm", "send", aliceAddress, reply])).code).toBe(0);
    expect(
      json<{ items: { text: string | null }[] }>(await alice.run(["dm", "inbox", "--json"]))
        .items[0]?.text,
    ).toBe(reply);

    const dump = await dumpDatabase(node.node);
    expect(dump.tables).toEqual(expect.arrayContaining(["actions", "grants", "sessions"]));
    for (const plaintext of [secret, reply]) {
      const bytes = Buffer.from(plaintext);
      const forms = [
        plaintext,
        bytes.toString("base64"),
        bytes.toString("base64url"),
        bytes.toString("hex"),
        // Every piece of 6 characters or more (each longer piece contains one of these).
        ...Array.from({ length: plaintext.length - 5 }, (_, i) => plaintext.slice(i, i + 6)),
      ];
      for (const form of forms) expect(dump.text.includes(form), form).toBe(false);
    }
  });

  it("commands that only need the session key never read the wallet file: post, dm, feed, list and flush work with it removed", async () => {
    const frank = user("frank", () => node.url);
    const bob = user("frank-bob", () => node.url);
    await frank.run(["wallet", "new"]);
    await bob.run(["wallet", "new"]);
    const bobAddress = json<{ address: string }>(
      await bob.run(["wallet", "show", "--json"]),
    ).address;
    expect((await bob.run(["session", "start", "--yes", "--scopes", "dm"])).code).toBe(0);
    expect((await frank.run(["session", "start", "--yes"])).code).toBe(0);
    const address = json<{ address: string }>(
      await frank.run(["wallet", "show", "--json"]),
    ).address;
    rmSync(frank.env().SESAME_KEYPAIR);

    const posted = await frank.run(["post", "no wallet file on this machine any more"]);
    expect(posted.code, posted.stderr).toBe(0);
    const id = (posted.stdout.match(/^posted (\w+)/) ?? [])[1] as string;
    expect((await frank.run(["react", id])).code).toBe(0);
    expect((await frank.run(["reply", id, "still no wallet"])).code).toBe(0);
    expect((await frank.run(["profile", "set", "--name", "Frank"])).code).toBe(0);
    expect((await frank.run(["dm", "send", bobAddress, "hi from the session key"])).code).toBe(0);
    const inbox = json<{ items: { text: string }[] }>(await frank.run(["dm", "inbox", "--json"]));
    expect(inbox.items[0]?.text).toBe("hi from the session key");
    const list = json<{ wallet: string; items: unknown[] }>(
      await frank.run(["session", "list", "--json"]),
    );
    expect(list.wallet).toBe(address);
    expect((await frank.run(["flush"])).code).toBe(0);
    expect((await frank.run(["feed", "--limit", "1"])).code).toBe(0);
    expect(frank.prompts()).toBe(1);

    // Several wallets on one keystore are told apart with --as (checked, exit 2).
    const bad = await frank.run(["post", "x", "--as", "not-a-wallet"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not a wallet address");
    const other = json<{ wallet: string }>(
      await frank.run(["session", "list", "--json", "--as", bobAddress]),
    );
    expect(other.wallet).toBe(bobAddress);

    // A step that needs the wallet says so, with the wallet-file exit code.
    const revoke = await frank.run(["session", "revoke"]);
    expect(revoke.code).toBe(4);
    expect(revoke.stderr).toContain("no wallet keypair file");
  });

  it("session renew: one wallet signature, same permissions; a DM sent to the replaced session stays readable until it is revoked", async () => {
    const gina = user("gina", () => node.url);
    const hal = user("hal", () => node.url);
    await gina.run(["wallet", "new"]);
    await hal.run(["wallet", "new"]);
    const ginaAddress = json<{ address: string }>(
      await gina.run(["wallet", "show", "--json"]),
    ).address;
    const first = json<{ grantId: string; limits: unknown; scopes: string[] }>(
      await gina.run([
        "session",
        "start",
        "--yes",
        "--scopes",
        "post,dm",
        "--cap",
        "post=7",
        "--duration",
        "2h",
        "--json",
      ]),
    );
    expect((await hal.run(["session", "start", "--yes", "--scopes", "dm"])).code).toBe(0);
    expect((await hal.run(["dm", "send", ginaAddress, "to your first session"])).code).toBe(0);

    const unconfirmed = await gina.run(["session", "renew"]);
    expect(unconfirmed.code).toBe(5);
    expect(gina.prompts()).toBe(1);
    const renewed = await gina.run(["session", "renew", "--yes", "--json"]);
    expect(renewed.code, renewed.stderr).toBe(0);
    const r = json<{ grantId: string; replaced: string; limits: unknown; scopes: string[] }>(
      renewed,
    );
    expect(r.replaced).toBe(first.grantId);
    expect(r.grantId).not.toBe(first.grantId);
    expect(r.scopes).toEqual(first.scopes);
    expect(r.limits).toEqual(first.limits);
    expect(gina.prompts()).toBe(2);
    expect((await gina.run(["post", "from the renewed session"])).code).toBe(0);
    const read = json<{ items: { text: string | null }[] }>(
      await gina.run(["dm", "inbox", "--json"]),
    );
    expect(read.items.map((m) => m.text)).toEqual(["to your first session"]);

    // The replaced session is revoked: its key is destroyed with it.
    expect((await gina.run(["session", "revoke", first.grantId])).code).toBe(0);
    const after = json<{ items: { text: string | null }[] }>(
      await gina.run(["dm", "inbox", "--json"]),
    );
    expect(after.items.map((m) => m.text)).toEqual([null]);
    expect(gina.prompts()).toBe(3);
  });

  it("a keystore restored from a backup: the next post is accepted above the node's numbers, no equivocation", async () => {
    const kim = user("kim", () => node.url);
    await kim.run(["wallet", "new"]);
    expect((await kim.run(["session", "start", "--yes", "--scopes", "post"])).code).toBe(0);
    const keystore = kim.env().SESAME_KEYSTORE;
    const backup = readFileSync(keystore);
    for (let i = 0; i < 3; i++)
      expect((await kim.run(["post", `before restore ${i}`])).code).toBe(0);
    writeFileSync(keystore, backup); // the backup's counters are three behind
    const after = await kim.run(["post", "after restore", "--json"]);
    expect(after.code, after.stderr).toBe(0);
    expect(json(after)).toMatchObject({ status: "accepted" });
    const [s] = json<{ items: { status: string; used: Record<string, number>; maxSeq: number }[] }>(
      await kim.run(["session", "list", "--json"]),
    ).items;
    expect(s).toMatchObject({ status: "active", used: { post: 4 }, maxSeq: 4 });
  });

  it("--json output parses for every command that prints a result", async () => {
    const carol = user("json", () => node.url);
    const runs: [string, Run][] = [];
    const add = async (args: string[], input?: string) => {
      const r = await carol.run([...args, "--json"], input);
      runs.push([args.join(" "), r]);
      return r;
    };
    await add(["wallet", "new"]);
    await add(["wallet", "show"]);
    await add(["session", "start", "--yes"]);
    const posted = json<{ id: string }>(await add(["post", "json post"]));
    await add(["reply", posted.id, "json reply"]);
    await add(["react", posted.id, "🔥"]);
    await add(["follow", json<{ address: string }>(runs[1]?.[1] as Run).address]);
    await add(["profile", "set", "--name", "Carol", "--bio", "json"]);
    await add(["profile", "show"]);
    await add(["feed", "--limit", "5"]);
    await add(["thread", posted.id]);
    await add(["session", "list"]);
    await add(["dm", "inbox"]);
    await add(["flush"]);
    for (const [what, r] of runs) {
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      expect(() => JSON.parse(r.stdout), what).not.toThrow();
      expect(r.stderr, what).toBe("");
    }
    const thread = json<{ root: { id: string }; replies: { items: unknown[] } }>(
      runs.find(([w]) => w.startsWith("thread"))?.[1] as Run,
    );
    expect(thread.root.id).toBe(posted.id);
    expect(thread.replies.items.length).toBe(1);
    expect(json(runs.find(([w]) => w === "profile show")?.[1] as Run)).toMatchObject({
      displayName: "Carol",
      posts: 1,
    });
  });

  it("exit codes: 3 when the node is unreachable (the post is queued, then flushed), 4 without a passphrase, 5 without confirmation", async () => {
    const dave = user("dave", () => node.url);
    await dave.run(["wallet", "new"]);

    // No terminal and no --yes: nothing is signed.
    const unconfirmed = await dave.run(["session", "start"]);
    expect(unconfirmed.code).toBe(5);
    expect(unconfirmed.stderr).toContain("--yes");
    expect(dave.prompts()).toBe(0);

    // No passphrase and no terminal to ask.
    const noPass = await sesame(["session", "start", "--yes"], {
      ...dave.env(),
      SESAME_PASSPHRASE: "",
    });
    expect(noPass.code).toBe(4);
    expect(noPass.stderr).toContain("SESAME_PASSPHRASE");

    expect((await dave.run(["session", "start", "--yes"])).code).toBe(0);
    // A wrong passphrase: the typed keystore error, exit 4 and a hint; nothing is signed.
    const wrongPass = await sesame(["post", "never signed"], {
      ...dave.env(),
      SESAME_PASSPHRASE: "not dave's passphrase",
    });
    expect(wrongPass.code).toBe(4);
    expect(wrongPass.stderr).toContain("error KEYSTORE_PASSPHRASE");
    expect(wrongPass.stderr).toContain("hint: check SESAME_PASSPHRASE");
    const closed = "http://127.0.0.1:9"; // discard port: nothing listens
    const queued = await sesame(["post", "written offline"], {
      ...dave.env(),
      SESAME_NODE: closed,
    });
    expect(queued.code).toBe(3);
    expect(queued.stdout).toMatch(/queued post \w+ \(signed, not delivered yet\)/);
    const stillDown = await sesame(["flush", "--json"], { ...dave.env(), SESAME_NODE: closed });
    expect(stillDown.code).toBe(3);
    expect(json(stillDown)).toMatchObject({
      sent: 0,
      queued: 1,
      reason: { code: 6008, name: "UNAVAILABLE" },
    });
    const unreachableRead = await sesame(["feed"], { ...dave.env(), SESAME_NODE: closed });
    expect(unreachableRead.code).toBe(3);
    expect(unreachableRead.stderr).toContain("error 6008 UNAVAILABLE");

    const flushed = json(await dave.run(["flush", "--json"]));
    expect(flushed).toEqual({ sent: 1, queued: 0 });
    const mine = json<{ items: { payload: { body: { text: string } } }[] }>(
      await dave.run([
        "feed",
        "--wallet",
        json<{ address: string }>(await dave.run(["wallet", "show", "--json"])).address,
        "--json",
      ]),
    );
    expect(mine.items.map((p) => p.payload.body.text)).toEqual(["written offline"]);
  });

  it("exit code 3 when the node holds an action back as over the hourly rate: printed with 4003, kept queued, not lost", async () => {
    const ivy = user("ivy", () => node.url);
    await ivy.run(["wallet", "new"]);
    expect(
      (await ivy.run(["session", "start", "--yes", "--scopes", "post", "--rate", "post=1"])).code,
    ).toBe(0);
    expect((await ivy.run(["post", "the one this hour"])).code).toBe(0);
    const held = await ivy.run(["post", "one too many"]);
    expect(held.code).toBe(3);
    expect(held.stdout).toContain("error 4003 OVER_RATE");
    const flushed = await ivy.run(["flush", "--json"]);
    expect(flushed.code).toBe(3);
    expect(json(flushed)).toMatchObject({ sent: 0, queued: 1, reason: { code: 4003 } });
    const list = json<{ items: { used: Record<string, number> }[] }>(
      await ivy.run(["session", "list", "--json"]),
    );
    expect(list.items[0]?.used).toEqual({ post: 1 });
  });

  it("bench prints throughput figures", async () => {
    const r = await sesame(["bench", "--actions", "20", "--batch", "10", "--json"], {
      SESAME_NODE: node.url,
    });
    expect(r.code, r.stderr).toBe(0);
    const report = json<{
      oneByOne: { perSecond: number };
      batched: { perSecond: number; refused: number };
    }>(r);
    expect(report.oneByOne.perSecond).toBeGreaterThan(0);
    expect(report.batched).toMatchObject({ refused: 0 });
  });
});

describe("sesame node start", { timeout: 120_000 }, () => {
  it("runs a node on a port that the CLI talks to, and stops cleanly on SIGTERM", async () => {
    const schema = `cli_${process.pid}_${Date.now().toString(36)}`;
    const child = spawn(
      process.execPath,
      [
        BIN,
        "node",
        "start",
        "--port",
        "0",
        "--database-url",
        DATABASE_URL,
        "--schema",
        schema,
        "--network",
        "sesame-cli-test",
        "--json",
      ],
      { cwd: ROOT, env: { ...process.env, HOME: HOME_DIR }, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let out = "";
      const ready = await new Promise<{ url: string; network: string; engine: string }>(
        (resolve, reject) => {
          child.stdout.setEncoding("utf8").on("data", (d: string) => {
            out += d;
            try {
              resolve(JSON.parse(out));
            } catch {
              // Not the whole document yet.
            }
          });
          child.on("exit", (code) => reject(new Error(`node start exited ${code}`)));
        },
      );
      expect(ready).toMatchObject({ engine: "postgres", network: "sesame-cli-test" });
      const eve = user("eve", () => ready.url);
      await eve.run(["wallet", "new"]);
      const start = await eve.run(["session", "start", "--yes", "--scopes", "post"]);
      expect(start.code, start.stderr).toBe(0);
      expect(start.stdout).toContain("Network: sesame-cli-test"); // taken from the node
      expect((await eve.run(["post", "on a node the CLI started"])).code).toBe(0);
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
      await dropSchema(DATABASE_URL, schema);
    }
  });
});

it("the keypair file the CLI makes is a Solana CLI keypair (64-byte JSON array, mode 0600)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sesame-cli-kp-"));
  const path = join(dir, "id.json");
  expect((await sesame(["wallet", "new", "--keypair", path])).code).toBe(0);
  const bytes = JSON.parse(readFileSync(path, "utf8")) as number[];
  expect(bytes.length).toBe(64);
  const { statSync } = await import("node:fs");
  expect(statSync(path).mode & 0o777).toBe(0o600);
  // Never overwritten.
  const again = await sesame(["wallet", "new", "--keypair", path]);
  expect(again.code).toBe(4);
  writeFileSync(join(dir, "junk.json"), "[1,2,3]");
  expect((await sesame(["wallet", "show", "--keypair", join(dir, "junk.json")])).code).toBe(4);
});
