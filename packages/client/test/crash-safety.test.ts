import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActionPayload,
  actionSigningBytes,
  ErrorCode,
  type Signature,
  type SignedAction,
  toBase58,
} from "@sesame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionKeys, SessionRecord } from "../src/index.js";
import { FileSessionStore } from "../src/node.js";
import { policy, ROOT, runTs, startTestNode, type TestNode, testClient } from "./helpers.js";

const CHILD = join(ROOT, "packages/client/test/fixtures/crash-child.ts");
const PASSPHRASE = "crash test passphrase";

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => node.close());

function keystorePath(): string {
  return join(mkdtempSync(join(tmpdir(), "sesame-crash-")), "keystore.json");
}

function recordOnDisk(path: string): SessionRecord {
  const file = JSON.parse(readFileSync(path, "utf8")) as { records: Record<string, SessionRecord> };
  const [record] = Object.values(file.records);
  if (record === undefined) throw new Error("no record on disk");
  return record;
}

/** The payload inside the exact bytes a session key is asked to sign. */
function payloadOf(signingBytes: Uint8Array): { seq: number; ord: number; kind: string } {
  const text = new TextDecoder().decode(signingBytes);
  return JSON.parse(text.slice(text.indexOf("\n") + 1));
}

describe("counters are durable before anything is signed", () => {
  it("when the session key signs, the keystore file on disk already holds the advanced seq and ord", async () => {
    const path = keystorePath();
    const seen: {
      signing: { seq: number; ord: number; kind: string };
      onDisk: SessionRecord;
    }[] = [];
    // The store as the app uses it, with the keys' sign() watched: at the moment of
    // signing, read the file as a crash would leave it.
    class Watched extends FileSessionStore {
      override async loadKeys(keyId: string): Promise<SessionKeys | undefined> {
        const keys = await super.loadKeys(keyId);
        if (keys === undefined) return undefined;
        return {
          ...keys,
          sign: async (message: Uint8Array) => {
            seen.push({ signing: payloadOf(message), onDisk: recordOnDisk(this.path) });
            return await keys.sign(message);
          },
        };
      }
    }
    const c = testClient(node.url, { store: new Watched(path, PASSPHRASE) });
    await c.manager.start(policy(["post", "react"]));
    const first = await c.social.post("one");
    if (first.status !== "accepted") throw new Error("not accepted");
    await c.social.react(first.id);
    await c.social.post("two");
    expect(seen.map((s) => s.signing)).toMatchObject([
      { seq: 1, ord: 1, kind: "post" },
      { seq: 2, ord: 1, kind: "react" },
      { seq: 3, ord: 2, kind: "post" },
    ]);
    for (const { signing, onDisk } of seen) {
      expect(onDisk.nextSeq).toBe(signing.seq + 1);
      expect(onDisk.nextOrd[signing.kind as "post"]).toBe(signing.ord + 1);
    }
  });
});

describe("a client process SIGKILLed between persist and send", () => {
  async function setUp() {
    const path = keystorePath();
    const c = testClient(node.url, { store: new FileSessionStore(path, PASSPHRASE) });
    const session = await c.manager.start(policy(["post"]));
    await c.social.post("before the crash"); // seq 1
    return { path, c, session };
  }

  function crash(mode: string, path: string, wallet: string) {
    return runTs(CHILD, [mode, path, PASSPHRASE, node.url, wallet, "app.sesame.test"]);
  }

  it("killed after reserving seq/ord (before signing): the next action uses fresh numbers and the node accepts it", async () => {
    const { path, c, session } = await setUp();
    const child = crash("after-reserve", path, c.address);
    const ready = await child.line("READY ");
    expect(JSON.parse(ready.slice(6))).toEqual({ seq: 2, ord: 2 });
    expect(await child.kill("SIGKILL")).toBeNull();
    expect(recordOnDisk(path).nextSeq).toBe(3);

    // The parent, as a fresh process would: a new store object on the same file.
    const parent = testClient(node.url, {
      store: new FileSessionStore(path, PASSPHRASE),
      wallet: { path: c.walletPath, address: c.address },
    });
    const r = await parent.social.post("after the crash");
    expect(r.status).toBe("accepted");
    const served = await parent.api.post(r.status === "accepted" ? r.id : "");
    expect(served.payload).toMatchObject({ seq: 3, ord: 3 });
    // No equivocation: the session is alive and counted two posts (seq 2 was skipped).
    const [s] = await parent.manager.list();
    expect(s).toMatchObject({ grant: session.grantId, status: "active", used: { post: 2 } });
    expect(parent.prompts()).toBe(0);
  });

  it("killed after signing, before the request went out: the queued action is delivered once, the next one gets a fresh seq, no equivocation", async () => {
    const { path, c, session } = await setUp();
    const child = crash("before-send", path, c.address);
    const ready = await child.line("READY ");
    const sent = JSON.parse(ready.slice(6)) as { actions: SignedAction[] };
    const orphan = sent.actions.at(-1);
    expect(orphan?.payload).toMatchObject({ seq: 2, ord: 2 });
    await child.kill("SIGKILL");
    expect(recordOnDisk(path).outbox.map((a) => a.signature)).toEqual([orphan?.signature]);

    const parent = testClient(node.url, {
      store: new FileSessionStore(path, PASSPHRASE),
      wallet: { path: c.walletPath, address: c.address },
    });
    const r = await parent.social.post("after the crash");
    expect(r.status).toBe("accepted");
    const feed = await parent.social.walletPosts(c.address);
    expect(feed.items.map((p) => (p.payload as { seq: number }).seq)).toEqual([3, 2, 1]);
    expect(recordOnDisk(path).outbox).toEqual([]);
    const [s] = await parent.manager.list();
    expect(s).toMatchObject({ grant: session.grantId, status: "active", used: { post: 3 } });

    // The same signed action arriving again (say the dead process's request did leave)
    // is a duplicate, not a second post.
    const again = await parent.api.postActions([orphan as SignedAction]);
    expect(again[0]).toMatchObject({ ok: true, duplicate: true });

    // And reuse would have been caught: a different action under seq 2, signed by the same
    // session key, is an equivocation that kills the session on the node.
    const keys = await parent.store.loadKeys(recordOnDisk(path).keyId);
    if (keys === undefined || orphan === undefined) throw new Error("keys are gone");
    const payload = {
      ...orphan.payload,
      body: { text: "a different post #2", links: [], mentions: [] },
    } as ActionPayload;
    const reused = {
      payload,
      signature: toBase58(await keys.sign(actionSigningBytes(payload))) as Signature,
    };
    const refused = await parent.api.postActions([reused]);
    expect(refused[0]).toMatchObject({ ok: false, error: { code: ErrorCode.EQUIVOCATION } });
    expect((await parent.manager.list())[0]?.status).toBe("revoked");
  });
});
