import { toBase58 } from "@sesame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isClientError, NodeApi, type SocialClient, type StreamEvent } from "../src/index.js";
import {
  app,
  policy,
  startTestNode,
  type TestClient,
  type TestEngine,
  type TestNode,
  testClient,
} from "./helpers.js";
import { type Json, type LyingProxy, startLyingProxy } from "./lying-proxy.js";

const FULL = policy(["post", "reply", "react", "profile", "dm"]);

/** Refused as a forged read (the typed error an app switches on), not any other failure. */
async function expectForged(p: Promise<unknown>, problem?: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isClientError(e, "FORGED_READ"), `expected FORGED_READ, got ${String(e)}`).toBe(true);
  if (problem !== undefined && isClientError(e, "FORGED_READ"))
    expect(e.context.problem).toMatch(problem);
}

const clone = (x: Json): Json => structuredClone(x);

describe.each(["postgres", "pglite"] as TestEngine[])(
  "a node (or a proxy) that lies is refused by the SDK (%s)",
  (engine) => {
    let node: TestNode;
    let proxy: LyingProxy;
    let alice: TestClient;
    let bob: TestClient;
    let reader: SocialClient;
    let postId: string;
    let replyId: string;
    let revokedGrant: string;
    let reactId: string;
    beforeAll(async () => {
      node = await startTestNode({ engine });
      proxy = await startLyingProxy(node.url);
      alice = testClient(proxy.url, { app: app("alice laptop") });
      bob = testClient(proxy.url, { app: app("bob phone") });
      await alice.manager.start(FULL);
      await bob.manager.start(FULL);
      postId = (await alice.social.post("first post")).id;
      await alice.social.post("second post");
      replyId = (await bob.social.reply(postId, "a reply")).id;
      reactId = (await bob.social.react(postId, "like")).id;
      await alice.social.react(replyId, "fire");
      await alice.social.setProfile({ displayName: "Alice", bio: "signed bio" });
      await alice.social.sendDm(bob.address, "hello bob");
      // A second session of Alice's, revoked: the list carries the signed revocation.
      const second = testClient(proxy.url, {
        app: app("alice phone"),
        wallet: { path: alice.walletPath, address: alice.address },
      });
      revokedGrant = (await second.manager.start(policy(["post"]))).grantId;
      await alice.manager.revoke(revokedGrant as never);
      reader = testClient(proxy.url, { app: app("reader") }).social;
    });
    afterAll(async () => {
      await proxy?.close();
      await node?.close();
    });
    const honest = () => {
      proxy.tamper = (_p, b) => b;
      proxy.tamperEvent = (b) => b;
    };

    it("passes an honest node's answers through, verified", async () => {
      honest();
      const feed = await reader.feed();
      expect(feed.items.map((p) => (p.payload as Json).body.text)).toEqual([
        "second post",
        "first post",
      ]);
      expect((await reader.walletPosts(alice.address)).items.length).toBe(2);
      expect((await reader.getPost(replyId)).id).toBe(replyId);
      const thread = await reader.thread(postId);
      expect(thread.replies.items.map((r) => r.id)).toEqual([replyId]);
      const profile = await reader.profile(alice.address);
      expect([profile.displayName, profile.bio]).toEqual(["Alice", "signed bio"]);
      expect((await reader.profile(bob.address)).action).toBeNull();
      const sessions = await reader.sessions(alice.address);
      const revoked = sessions.find((s) => s.grant === revokedGrant);
      expect(revoked?.status).toBe("revoked");
      expect(revoked?.revocation).toBeDefined();
      expect(sessions.filter((s) => s.status === "active").length).toBe(1);
      const inbox = await bob.social.inbox();
      expect(inbox.items[0]?.message?.text).toBe("hello bob");
    });

    it("refuses a feed item whose text was changed", async () => {
      proxy.tamper = (path, b) => {
        if (path !== "/v1/feed") return b;
        const out = clone(b);
        out.items[0].payload.body.text = "the node wrote this";
        return out;
      };
      await expectForged(reader.feed(), /signature/i);
    });

    it("refuses a feed whose signatures were swapped between items", async () => {
      proxy.tamper = (path, b) => {
        if (path !== "/v1/feed") return b;
        const out = clone(b);
        [out.items[0].signature, out.items[1].signature] = [
          out.items[1].signature,
          out.items[0].signature,
        ];
        return out;
      };
      await expectForged(reader.feed());
    });

    it("refuses a post served under another wallet, or in another order", async () => {
      proxy.tamper = (path, b) => {
        if (path !== `/v1/wallets/${alice.address}/posts`) return b;
        const out = clone(b);
        out.items[0].wallet = bob.address;
        return out;
      };
      await expectForged(reader.walletPosts(alice.address));
      proxy.tamper = (path, b) => {
        if (path !== "/v1/feed") return b;
        const out = clone(b);
        out.items.reverse();
        return out;
      };
      await expectForged(reader.feed(), /order/);
    });

    it("refuses a post, thread root or reply that does not verify", async () => {
      proxy.tamper = (path, b) => {
        if (path !== `/v1/posts/${replyId}`) return b;
        const out = clone(b);
        out.payload.ts += 1;
        return out;
      };
      await expectForged(reader.getPost(replyId));
      proxy.tamper = (path, b) => {
        if (path !== `/v1/posts/${postId}/thread`) return b;
        const out = clone(b);
        out.replies.items[0].payload.body.text = "not what bob said";
        return out;
      };
      await expectForged(reader.thread(postId));
      proxy.tamper = (path, b) => {
        if (path !== `/v1/posts/${postId}/thread`) return b;
        const out = clone(b);
        out.root.signature = out.replies.items[0].signature;
        return out;
      };
      await expectForged(reader.thread(postId));
    });

    it("refuses a grant the node swapped for another", async () => {
      honest();
      const feed = await new NodeApi(node.url).feed();
      const grantOfAlice = feed.items[0]?.grant ?? "";
      const bobGrant = (await bob.manager.status()) as Json;
      const other = await new NodeApi(node.url).grant(bobGrant.session.grantId);
      // A reader that never saw Alice's grant: the proxy answers Bob's grant for it.
      const fresh = testClient(proxy.url, { app: app("fresh reader") }).social;
      proxy.tamper = (path, b) => (path === `/v1/grants/${grantOfAlice}` ? other : b);
      await expectForged(fresh.feed(), /served grant/);
    });

    it("refuses a profile whose fields differ from the signed profile action", async () => {
      proxy.tamper = (path, b) => {
        if (path !== `/v1/wallets/${alice.address}/profile`) return b;
        const out = clone(b);
        out.displayName = "Mallory";
        return out;
      };
      await expectForged(reader.profile(alice.address), /differ/);
      proxy.tamper = (path, b) => {
        if (path !== `/v1/wallets/${bob.address}/profile`) return b;
        return { ...clone(b), displayName: "Bob (says the node)" };
      };
      await expectForged(reader.profile(bob.address), /without the signed profile action/);
      proxy.tamper = (path, b) => {
        if (path !== `/v1/wallets/${alice.address}/profile`) return b;
        const out = clone(b);
        out.action.payload.body.bio = "edited";
        out.bio = "edited";
        return out;
      };
      await expectForged(reader.profile(alice.address), /signature/i);
    });

    it("refuses a sessions list with a changed grant, key or revocation", async () => {
      const sessionsPath = `/v1/wallets/${alice.address}/sessions`;
      const edit = (f: (items: Json[]) => void) => {
        proxy.tamper = (path, b) => {
          if (path !== sessionsPath) return b;
          const out = clone(b);
          f(out.items);
          return out;
        };
      };
      const active = (items: Json[]) => items.find((s) => s.status === "active");
      const revoked = (items: Json[]) => items.find((s) => s.grant === revokedGrant);
      // The grant text, and its device beside it, edited alike.
      edit((items) => {
        const s = active(items);
        s.text = s.text.replace("Device: alice laptop", "Device: alice desktop");
        s.device = "alice desktop";
      });
      await expectForged(reader.sessions(alice.address));
      // Another encryption key beside a genuine grant (a DM copy for the node).
      edit((items) => {
        active(items).encryptionKey = toBase58(new Uint8Array(32).fill(9));
      });
      await expectForged(reader.sessions(alice.address), /encryptionKey/);
      // Revoked, says the node, without the wallet's revocation.
      edit((items) => {
        const a = active(items);
        a.status = "revoked";
        a.revokedBy = "revocation";
      });
      await expectForged(reader.sessions(alice.address), /without the wallet's signed revocation/);
      // The revocation's text altered.
      edit((items) => {
        const s = revoked(items);
        s.revocation.text = s.revocation.text.replace(
          /Issued At: .*/,
          "Issued At: 2020-01-01T00:00:00.000Z",
        );
      });
      await expectForged(reader.sessions(alice.address), /revocation/);
      // A genuine revocation of another session, moved onto the live one.
      edit((items) => {
        const a = active(items);
        a.status = "revoked";
        a.revocation = revoked(items).revocation;
      });
      await expectForged(reader.sessions(alice.address), /does not cover/);
      // Someone else's session listed as Alice's.
      const bobs = await new NodeApi(node.url).sessions(bob.address);
      proxy.tamper = (path, b) => (path === sessionsPath ? { items: [...b.items, ...bobs] } : b);
      await expectForged(reader.sessions(alice.address), /wallet/);
    });

    it("refuses a reactions list whose items are not what a session of the wallet signed", async () => {
      honest();
      const r = await reader.reactions(postId);
      expect(r.items.map((i) => [i.wallet, i.reaction, i.action])).toEqual([
        [bob.address, "like", reactId],
      ]);
      expect(r.counts).toEqual({ like: 1 });
      const path = `/v1/posts/${postId}/reactions`;
      const edit = (f: (items: Json[], b: Json) => void) => {
        proxy.tamper = (p, b) => {
          if (p !== path) return b;
          const out = clone(b);
          f(out.items, out);
          return out;
        };
      };
      // The reaction changed beside a genuine signed action.
      edit((items) => {
        items[0].reaction = "dislike";
      });
      await expectForged(reader.reactions(postId), /differ/);
      // Listed as another wallet's.
      edit((items) => {
        items[0].wallet = alice.address;
      });
      await expectForged(reader.reactions(postId), /served as/);
      // The signed reaction itself edited.
      edit((items) => {
        items[0].signed.payload.body.reaction = "dislike";
        items[0].reaction = "dislike";
      });
      await expectForged(reader.reactions(postId), /signature/i);
      // A genuine react, but to another post (Alice's reaction to the reply).
      const other = (await new NodeApi(node.url).reactions(replyId)).items[0] as Json;
      edit((items) => {
        items.unshift({
          ...other,
          logId: other.logId + 10_000,
          signed: { ...other.signed, logId: other.logId + 10_000 },
        });
      });
      await expectForged(reader.reactions(postId));
      edit((items) => {
        items[0] = other;
      });
      await expectForged(reader.reactions(postId), /a reaction to/);
      // A post (not a react) served as the reaction; an item without its signed action.
      const post = (await new NodeApi(node.url).post(postId)) as Json;
      edit((items) => {
        items[0].signed = { ...post, logId: items[0].logId, id: items[0].action };
      });
      await expectForged(reader.reactions(postId));
      edit((items) => {
        delete items[0].signed;
      });
      await expectForged(reader.reactions(postId), /without its signed action/);
      honest();
    });

    it("refuses an inbox whose direct message was altered", async () => {
      proxy.tamper = (path, b) => {
        if (path !== `/v1/wallets/${bob.address}/inbox`) return b;
        const out = clone(b);
        out.items[0].payload.body.copies.reverse();
        out.items[0].payload.body.copies.push(out.items[0].payload.body.copies[0]);
        return out;
      };
      await expectForged(bob.social.inbox());
    });

    it("stops the live stream at the first event that does not verify", async () => {
      honest();
      // Replayed from the start: grants, actions and the revocation, all verified, in order.
      const seen: StreamEvent[] = [];
      const ctrl = new AbortController();
      const done = reader.subscribe(
        (e) => {
          seen.push(e);
          if (e.type === "revocation") ctrl.abort();
        },
        { after: 0, signal: ctrl.signal },
      );
      await done;
      expect(seen.map((e) => e.type)).toContain("grant");
      expect(seen.filter((e) => e.type === "action").length).toBeGreaterThanOrEqual(4);
      const ids = seen.map((e) => e.logId);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));

      for (const lie of [
        (b: Json) => {
          if (b.event === "action") b.data.payload.body.text = "forged";
        },
        (b: Json) => {
          if (b.event === "grant") b.data.text = b.data.text.replace("Device: ", "Device: x");
        },
        (b: Json) => {
          if (b.event === "revocation") b.data.wallet = bob.address;
        },
        (b: Json) => {
          if (b.event === "action") b.event = "surprise";
        },
      ]) {
        proxy.tamperEvent = (b) => {
          const out = clone(b);
          lie(out);
          return out;
        };
        const delivered: StreamEvent[] = [];
        const lied = reader.subscribe((e) => void delivered.push(e), { after: 0 });
        await expectForged(lied);
        // Nothing after the lie reached the app.
        expect(delivered.length).toBeLessThan(seen.length);
      }
      honest();
    });

    it("a sessions list that does not verify cannot make a device destroy its keys", async () => {
      honest();
      const victim = testClient(proxy.url, {
        app: app("alice tablet"),
        wallet: { path: alice.walletPath, address: alice.address },
      });
      const grant = (await victim.manager.start(policy(["post"]))).grantId;
      const sessionsPath = `/v1/wallets/${alice.address}/sessions`;
      const lie = (f: (s: Json, items: Json[]) => void) => {
        proxy.tamper = (path, b) => {
          if (path !== sessionsPath) return b;
          const out = clone(b);
          f(
            out.items.find((s: Json) => s.grant === grant),
            out.items,
          );
          return out;
        };
      };
      // "Revoked", says the node, without the wallet's revocation.
      lie((s) => {
        s.status = "revoked";
        s.revokedBy = "revocation";
        s.revokedAt = Date.now();
      });
      expect(await victim.manager.forgetRevoked(Date.now())).toBe(false);
      await expectForged(victim.manager.list(), /without the wallet's signed revocation/);
      // With a genuine revocation of another session.
      lie((s, items) => {
        s.status = "revoked";
        s.revocation = items.find((x: Json) => x.grant === revokedGrant).revocation;
      });
      expect(await victim.manager.forgetRevoked(Date.now())).toBe(false);
      // The keys are still there: the session still acts.
      honest();
      expect((await victim.manager.status()).state).toBe("active");
      await victim.social.post("still mine");
      // Really revoked (from Alice's other device): the verified list shows it, keys go.
      await alice.manager.revoke(grant as never);
      expect(await victim.manager.forgetRevoked()).toBe(true);
      expect((await victim.manager.status()).state).toBe("revoked");
    });
  },
);
