import { randomBytes } from "node:crypto";
import { dropSchema } from "@sesame/node";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { StreamEvent } from "../src/index.js";
import {
  app,
  DATABASE_URL,
  policy,
  removeDir,
  startTestNode,
  type TestNode,
  templatePgliteDir,
  testClient,
} from "./helpers.js";

type Text = { body: { text: string } };

const ENGINES = [
  {
    engine: "postgres",
    storage: async () => {
      const schema = `c_stream_${process.pid}_${randomBytes(4).toString("hex")}`;
      return { options: { schema }, cleanup: () => dropSchema(DATABASE_URL, schema) };
    },
  },
  {
    engine: "pglite",
    storage: async () => {
      const pgliteDir = await templatePgliteDir();
      return { options: { pgliteDir }, cleanup: () => removeDir(pgliteDir) };
    },
  },
] as const;

describe.each(ENGINES)("SocialClient.subscribe on $engine", ({ storage }) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("delivers verified events in log order, each once, and resumes after the node restarts", async () => {
    const { options, cleanup } = await storage();
    cleanups.push(cleanup);
    let node: TestNode = await startTestNode(options);
    const port = node.port;
    cleanups.push(() => node.close());
    const alice = testClient(node.url, { app: app("alice"), retry: false });
    const reader = testClient(node.url, { app: app("reader") }).social;
    await alice.manager.start(policy(["post"]));
    await alice.social.post("before 0");

    const texts: string[] = [];
    const logIds: number[] = [];
    const ctrl = new AbortController();
    // A slow consumer: later events must still wait for earlier ones.
    const done = reader.subscribe(
      async (e: StreamEvent) => {
        logIds.push(e.logId);
        if (e.type !== "action") return;
        await new Promise((r) => setTimeout(r, logIds.length % 3 === 0 ? 20 : 0));
        texts.push(((e.data as { payload: Text }).payload as Text).body.text);
      },
      { after: 0, signal: ctrl.signal },
    );
    for (let i = 1; i < 4; i++) await alice.social.post(`before ${i}`);
    await vi.waitFor(() => expect(texts.length).toBe(4), { timeout: 20_000, interval: 50 });

    // The node stops (its streams end) and comes back on the same port and storage.
    await node.close();
    node = await startTestNode({ ...options, port });
    for (let i = 0; i < 4; i++)
      expect((await alice.social.post(`after ${i}`)).status).toBe("accepted");
    await vi.waitFor(() => expect(texts.length).toBe(8), { timeout: 30_000, interval: 100 });
    ctrl.abort();
    await done;

    expect(texts).toEqual([
      "before 0",
      "before 1",
      "before 2",
      "before 3",
      "after 0",
      "after 1",
      "after 2",
      "after 3",
    ]);
    // Strictly increasing: nothing twice, nothing out of order across the reconnect.
    expect(logIds).toEqual([...new Set(logIds)].sort((a, b) => a - b));
  });
});
