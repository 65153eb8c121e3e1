/**
 * `node packages/node/dist/main.js` (what `npm start` runs) as a child process: on a PGlite
 * data directory, on PostgreSQL in the schema DATABASE_SCHEMA names, and refusing a bad
 * DATABASE_SCHEMA with exit code 2 and a clear message before it opens anything; and saying
 * in one line why it cannot start (bad PORT, unreachable database, port in use).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { makeGrant } from "../../protocol/scripts/fixtures.js";
import { dropSchema } from "../src/index.js";
import { buildNodePackage, DATABASE_URL, get, post, registerSession } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
// main.js is the built package: build it first, so this file run alone never tests an
// older build.
beforeAll(buildNodePackage, 180_000);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sesame-main-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts main.js with `env` (on a free port, no seed data, no web app). */
function startMain(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: "0",
      SESAME_SEED: "0",
      SESAME_VERIFY_WORKERS: "0",
      SESAME_WEB_DIR: join(tmpdir(), "sesame-no-web-app"),
      // The fixtures' chain and network, so their grants verify.
      SESAME_NETWORK: "sesame-test",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  });
  return child;
}

/** Resolves with the node's base URL once it prints its API line; fails if it exits first. */
async function baseUrl(child: ChildProcess): Promise<{ url: string; stdout: () => string }> {
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const m = /API\s+(http:\/\/\S+)\/v1\/feed/.exec(stdout);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`main.js exited with ${code}: ${stderr}`)));
  });
  return { url, stdout: () => stdout };
}

/** Runs main.js to its exit; its code and what it wrote to stderr. */
async function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stderr };
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill("SIGTERM");
  const [code] = (await once(child, "exit")) as [number | null];
  return code;
}

describe("main.js as a process", () => {
  it("runs on a PGlite data directory and keeps what it accepted across a restart", async () => {
    const dir = await tempDir();
    const env = { SESAME_DATA_DIR: join(dir, "pglite"), SESAME_CHAIN_DIR: join(dir, "chain") };
    const first = startMain(env);
    const { url, stdout } = await baseUrl(first);
    expect(stdout()).toContain(`Sesame node on PGlite (${join(dir, "pglite")})`);
    expect((await get(url, "/health")).status).toBe(200);
    const alice = await registerSession(url, makeGrant("alice", "alice-main"));
    expect(await stop(first)).toBe(0);
    expect(existsSync(join(dir, "pglite"))).toBe(true);

    const second = startMain(env);
    const again = await baseUrl(second);
    const grant = await get<{ id: string }>(again.url, `/v1/grants/${alice.grantId}`);
    expect(grant.status).toBe(200);
    expect(grant.body.id).toBe(alice.grantId);
    expect(await stop(second)).toBe(0);
    // Two starts of a process that opens PGlite (initdb on the first): slow on a busy machine.
  }, 120_000);

  it("runs on PostgreSQL in the schema DATABASE_SCHEMA names, creating it", async () => {
    const dir = await tempDir();
    const schema = `main_${process.pid}_${Date.now().toString(36)}`;
    onTestFinished(() => dropSchema(DATABASE_URL, schema));
    const child = startMain({
      DATABASE_URL,
      DATABASE_SCHEMA: schema,
      SESAME_CHAIN_DIR: join(dir, "chain"),
    });
    const { url, stdout } = await baseUrl(child);
    expect(stdout()).toContain(`Sesame node on PostgreSQL (schema ${schema})`);
    const alice = await registerSession(url, makeGrant("alice", "alice-main-pg"));
    expect((await post(url, "/v1/grants", { text: "not a grant", signature: "1" })).status).toBe(
      400,
    );

    // The grant is stored in that schema's tables, not in any other.
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT id FROM ${schema}.grants`);
      expect(rows.map((r: { id: string }) => r.id)).toEqual([alice.grantId]);
    } finally {
      await client.end();
    }
    expect(await stop(child)).toBe(0);
  }, 60_000);

  it("refuses a DATABASE_SCHEMA that is not a plain lower-case name, or one without DATABASE_URL, with exit 2", async () => {
    const dir = await tempDir();
    for (const bad of ["Bad-Name", "1abc", "a;drop schema public", "x".repeat(64)]) {
      const { code, stderr } = await exitOf(
        startMain({ DATABASE_URL, DATABASE_SCHEMA: bad, SESAME_CHAIN_DIR: join(dir, "chain") }),
      );
      expect(code, bad).toBe(2);
      expect(stderr).toContain("DATABASE_SCHEMA must be 1 to 63 lower-case letters");
      expect(stderr).toContain(JSON.stringify(bad));
    }
    const { code, stderr } = await exitOf(
      startMain({ DATABASE_SCHEMA: "fine_name", SESAME_DATA_DIR: join(dir, "pglite") }),
    );
    expect(code).toBe(2);
    expect(stderr).toContain("set DATABASE_URL as well");
    // Refused before anything was opened or created.
    expect(existsSync(join(dir, "pglite"))).toBe(false);
    expect(existsSync(join(dir, "chain"))).toBe(false);
  }, 60_000);

  it("refuses a SESAME_PEERS that is not http(s) URLs, and sync settings that are not integers, with exit 2", async () => {
    const dir = await tempDir();
    const data = { SESAME_DATA_DIR: join(dir, "pglite"), SESAME_CHAIN_DIR: join(dir, "chain") };
    const cases: [Record<string, string>, string][] = [
      [
        { SESAME_PEERS: "http://127.0.0.1:1,ftp://peer.example" },
        "SESAME_PEERS must be http(s) URLs",
      ],
      [{ SESAME_PEERS: "127.0.0.1:8788" }, "SESAME_PEERS must be http(s) URLs"],
      [
        { SESAME_SYNC_INTERVAL_MS: "1s" },
        'SESAME_SYNC_INTERVAL_MS must be an integer of at least 1, not "1s"',
      ],
      [
        { SESAME_SYNC_INTERVAL_MS: "0" },
        "SESAME_SYNC_INTERVAL_MS must be an integer of at least 1",
      ],
      [
        { SESAME_SYNC_LATE_GRACE_MS: "-5" },
        "SESAME_SYNC_LATE_GRACE_MS must be an integer of at least 0",
      ],
      [
        { SESAME_SYNC_MAX_BACKOFF_MS: "abc" },
        "SESAME_SYNC_MAX_BACKOFF_MS must be an integer of at least 1",
      ],
    ];
    for (const [env, message] of cases) {
      const { code, stderr } = await exitOf(startMain({ ...data, ...env }));
      expect(code, JSON.stringify(env)).toBe(2);
      expect(stderr).toContain(message);
    }
    // Refused before anything was opened or created.
    expect(existsSync(join(dir, "pglite"))).toBe(false);
    expect(existsSync(join(dir, "chain"))).toBe(false);
  }, 60_000);

  it("says in one line, without a stack, why it cannot start: a bad PORT (exit 2), an unreachable database, a port in use (exit 1)", async () => {
    const dir = await tempDir();
    for (const bad of ["abc", "-1", "70000", "1.5"]) {
      const { code, stderr } = await exitOf(startMain({ PORT: bad }));
      expect(code, bad).toBe(2);
      expect(stderr.trim()).toBe(
        `PORT must be an integer from 0 to 65535, not ${JSON.stringify(bad)}`,
      );
    }

    // Nothing listens on port 1; the password is not printed.
    const unreachable = await exitOf(
      startMain({
        DATABASE_URL: "postgres://postgres:hunter2@127.0.0.1:1/test",
        SESAME_CHAIN_DIR: join(dir, "chain"),
      }),
    );
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toBe(
      "the node cannot start on PostgreSQL at postgres://postgres:***@127.0.0.1:1/test: connect ECONNREFUSED 127.0.0.1:1",
    );

    // A second node on the port of a running one.
    const schema = `main_port_${process.pid}_${Date.now().toString(36)}`;
    onTestFinished(() => dropSchema(DATABASE_URL, schema));
    const env = { DATABASE_URL, DATABASE_SCHEMA: schema, SESAME_CHAIN_DIR: join(dir, "chain2") };
    const first = startMain(env);
    const { url } = await baseUrl(first);
    const port = new URL(url).port;
    const second = await exitOf(startMain({ ...env, PORT: port }));
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
    );
    expect(second.stderr.trim().split("\n")).toHaveLength(1);
    expect((await get(url, "/health")).status).toBe(200);
    expect(await stop(first)).toBe(0);
    // Several process starts: slow on a busy machine.
  }, 120_000);
});
