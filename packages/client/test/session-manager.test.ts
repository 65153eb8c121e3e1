import "fake-indexeddb/auto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode, isProtocolError, ProtocolError, parseRevocationText } from "@sesame/protocol";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  IndexedDbSessionStore,
  isClientError,
  type SesameClientError,
  SessionManager,
  type SessionStore,
} from "../src/index.js";
import { FileSessionStore } from "../src/node.js";
import {
  app,
  newWalletFile,
  policy,
  startTestNode,
  type TestClient,
  type TestNode,
  testClient,
} from "./helpers.js";

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => node.close());

const POSTS = policy(["post", "reply", "react", "dm"], { post: { total: 500 } });

/** Resolves to the refusal's code, failing the test when it resolves instead. */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return (e as ProtocolError).code;
  }
  throw new Error("expected a refusal");
}

describe("wallet prompts: one per session, none per action", () => {
  it("start costs exactly one prompt and 100 posts cost none", async () => {
    const c = testClient(node.url);
    expect(c.prompts()).toBe(0);
    await c.manager.start(POSTS);
    expect(c.prompts()).toBe(1);
    for (let i = 0; i < 100; i++) {
      expect((await c.social.post(`post ${i}`)).status).toBe("accepted");
    }
    expect(c.prompts()).toBe(1);
    const [session] = await c.manager.list();
    expect(session?.used).toEqual({ post: 100 });
  });

  /** Each returns a way to open the same store again, as a reloaded page or a new process would. */
  const stores: [string, () => () => SessionStore][] = [
    [
      "IndexedDB (WebCrypto)",
      () => {
        const name = `reload-${Math.random()}`;
        return () => new IndexedDbSessionStore(name);
      },
    ],
    [
      "encrypted file",
      () => {
        const path = join(mkdtempSync(join(tmpdir(), "sesame-ks-")), "ks.json");
        return () => new FileSessionStore(path, "correct horse");
      },
    ],
  ];
  it.each(stores)("resume() after a reload costs no prompt (%s store)", async (_name, kind) => {
    const open = kind();
    const wallet = newWalletFile();
    const first = testClient(node.url, { store: open(), wallet });
    await first.manager.start(POSTS);
    await first.social.post("before the reload");
    expect(first.prompts()).toBe(1);

    // The reload: new store object, SessionManager and SocialClient; same wallet file.
    const again = testClient(node.url, { store: open(), wallet });
    const resumed = await again.manager.resume();
    expect(resumed?.grantId).toBe((await first.manager.resume())?.grantId);
    expect((await again.social.post("after the reload")).status).toBe("accepted");
    expect(again.prompts()).toBe(0);
    expect(first.prompts()).toBe(1);
    // Counted from the node too: one grant for this wallet, used by both.
    const sessions = await again.manager.list();
    expect(sessions.length).toBe(1);
    expect(sessions[0]?.used).toEqual({ post: 2 });
  });

  it("renew costs one prompt and replaces the session on this device", async () => {
    const c = testClient(node.url);
    const first = await c.manager.start(POSTS);
    await c.social.post("old session");
    const renewed = await c.manager.renew();
    expect(c.prompts()).toBe(2);
    expect(renewed.grantId).not.toBe(first.grantId);
    expect(renewed.grant.scopes).toEqual(first.grant.scopes);
    expect(renewed.grant.limits).toEqual(first.grant.limits);
    // The replaced session is still live on the node: its keys stay, for reading only,
    // until it ends (dm.test.ts reads a DM sent to it); actions are signed by the new one.
    expect(await c.store.loadKeys(first.record.keyId)).toBeDefined();
    expect(renewed.record.retired).toEqual([
      {
        keyId: first.record.keyId,
        grantId: first.grantId,
        expirationTime: first.grant.expirationTime,
      },
    ]);
    expect((await c.social.post("new session")).status).toBe("accepted");
    expect(c.prompts()).toBe(2);
    const used = Object.fromEntries((await c.manager.list()).map((s) => [s.grant, s.used]));
    expect(used).toEqual({ [first.grantId]: { post: 1 }, [renewed.grantId]: { post: 1 } });
  });

  it("ensure() asks nothing for a covered policy, and asks again for a scope or limit the grant lacks", async () => {
    const c = testClient(node.url);
    const granted = policy(["post", "react"], { post: { total: 100, perHour: 50 } });
    const first = await c.manager.ensure(granted);
    expect(c.prompts()).toBe(1);

    // Narrower than the grant: covered, no prompt.
    const covered = await c.manager.ensure(policy(["post"], { post: { total: 10, perHour: 5 } }));
    expect(covered.grantId).toBe(first.grantId);
    expect(c.prompts()).toBe(1);

    // A scope the grant lacks: one prompt for a new session.
    const withFollow = await c.manager.ensure(
      policy(["post", "react", "follow"], { post: { total: 100, perHour: 50 } }),
    );
    expect(c.prompts()).toBe(2);
    expect(withFollow.grant.scopes).toContain("follow");

    // A limit above the grant's: asks again.
    await c.manager.ensure(policy(["post"], { post: { total: 1000, perHour: 50 } }));
    expect(c.prompts()).toBe(3);

    // Unlimited asked, limited granted: asks again.
    await c.manager.ensure(policy(["post"], { post: { total: 1000 } }));
    expect(c.prompts()).toBe(4);
    await c.manager.ensure(policy(["post"], { post: { total: 1000 } }));
    expect(c.prompts()).toBe(4);
  });

  it("revoke costs one prompt (the wallet signs the revocation), revokeAll one, and both end the session", async () => {
    const c = testClient(node.url);
    const s1 = await c.manager.start(POSTS);
    expect(c.prompts()).toBe(1);
    const r = await c.manager.revoke();
    expect(c.prompts()).toBe(2);
    expect(r.revoked).toEqual([s1.grantId]);
    expect(await c.store.loadKeys(s1.record.keyId)).toBeUndefined();
    expect(await codeOf(c.social.post("after revoke"))).toBe(ErrorCode.SESSION_REVOKED);

    // Two more sessions of the wallet on two devices; revokeAll from one ends both.
    const phone = testClient(node.url, {
      wallet: { path: c.walletPath, address: c.address },
      app: app("phone"),
    });
    const s2 = await c.manager.start(POSTS);
    const s3 = await phone.manager.start(POSTS);
    expect(c.prompts()).toBe(3);
    expect(phone.prompts()).toBe(1);
    const all = await c.manager.revokeAll();
    expect(c.prompts()).toBe(4);
    expect(new Set(all.revoked)).toEqual(new Set([s2.grantId, s3.grantId]));
    // The phone learns it from the node: the code is the same.
    expect(await codeOf(phone.social.post("phone after revoke-all"))).toBe(
      ErrorCode.SESSION_REVOKED,
    );
    const statuses = (await c.manager.list()).map((s) => s.status);
    expect(statuses).toEqual(["revoked", "revoked", "revoked"]);
  });

  it("list() shows the wallet's sessions across apps and devices, with their usage", async () => {
    const wallet = newWalletFile();
    const laptop = testClient(node.url, { wallet, app: app("Laptop", "app.sesame.test") });
    const phone = testClient(node.url, { wallet, app: app("Phone", "app.sesame.test") });
    const other = testClient(node.url, { wallet, app: app("Terminal", "other.sesame.test") });
    await laptop.manager.start(POSTS);
    await phone.manager.start(POSTS);
    await other.manager.start(policy(["react", "follow"]));
    for (let i = 0; i < 3; i++) await laptop.social.post(`laptop ${i}`);
    const p = await phone.social.post("from the phone");
    if (p.status !== "accepted") throw new Error("not accepted");
    await phone.social.reply(p.id, "and a reply");
    await other.social.react(p.id);
    await other.social.follow(newWalletFile().address);

    const list = await laptop.manager.list();
    const view = list
      .map((s) => ({ app: s.app, device: s.device, status: s.status, used: s.used }))
      .sort((a, b) => a.device.localeCompare(b.device));
    expect(view).toEqual([
      { app: "app.sesame.test", device: "Laptop", status: "active", used: { post: 3 } },
      { app: "app.sesame.test", device: "Phone", status: "active", used: { post: 1, reply: 1 } },
      {
        app: "other.sesame.test",
        device: "Terminal",
        status: "active",
        used: { react: 1, follow: 1 },
      },
    ]);
    // Every device sees the same list.
    expect((await other.manager.list()).length).toBe(3);
    expect(laptop.prompts() + phone.prompts() + other.prompts()).toBe(3);
  });
});

describe("renewal before expiry", () => {
  it("the renew window is the smaller of renewBeforeMs and renewFraction of the duration", async () => {
    let now = Date.now();
    const c = testClient(node.url, { clock: () => now });
    const long = await c.manager.start(policy(["post"], {}, 24 * 3_600_000));
    // 24 h: 10 % is 2.4 h, 10 minutes is smaller.
    expect(c.manager.renewWindowMs(long.grant)).toBe(10 * 60_000);
    const short = { notBefore: 0, expirationTime: 5 * 60_000 };
    // 5 minutes: 10 % is 30 s, so a short session is not due the moment it starts.
    expect(c.manager.renewWindowMs(short)).toBe(30_000);
    expect(c.manager.renewalDue(long)).toBe(false);
    now = long.grant.expirationTime - 10 * 60_000 + 1;
    expect(c.manager.renewalDue(long)).toBe(true);
  });

  it("the next action in the renew window renews first: ONE prompt, same scopes and limits, then no more", async () => {
    let now = Date.now();
    const c = testClient(node.url, { clock: () => now, renewBeforeMs: 5 * 60_000 });
    const first = await c.manager.start(
      policy(["post", "react"], { post: { total: 50, perHour: 20 } }, 3_600_000),
    );
    expect((await c.social.post("early")).status).toBe("accepted");
    expect(c.prompts()).toBe(1);
    // 57 minutes later: 3 minutes left, inside the 5-minute window.
    now += 57 * 60_000;
    node.offset = 57 * 60_000;
    try {
      expect((await c.social.post("renews first")).status).toBe("accepted");
      expect(c.prompts()).toBe(2);
      const current = await c.manager.resume();
      expect(current?.grantId).not.toBe(first.grantId);
      expect(current?.grant.scopes).toEqual(first.grant.scopes);
      expect(current?.grant.limits).toEqual(first.grant.limits);
      expect(current?.grant.expirationTime).toBe(now + 3_600_000);
      for (let i = 0; i < 5; i++) await c.social.post(`after renewal ${i}`);
      expect(c.prompts()).toBe(2);
      const used = Object.fromEntries((await c.manager.list()).map((s) => [s.grant, s.used]));
      expect(used).toEqual({
        [first.grantId]: { post: 1 },
        [current?.grantId as string]: { post: 6 },
      });
    } finally {
      node.offset = 0;
    }
  });

  it("autoRenew() renews on its timer in the window with ONE prompt, then waits for the new session's window", async () => {
    let now = Date.now();
    const c = testClient(node.url, { clock: () => now, renewBeforeMs: 5 * 60_000 });
    const first = await c.manager.start(policy(["post"], {}, 3_600_000));
    // A scheduler the test runs by hand: what was armed, for how long.
    const timers: { run: () => Promise<void>; delayMs: number; cleared: boolean }[] = [];
    const scheduler = {
      set(run: () => Promise<void>, delayMs: number) {
        const t = { run, delayMs, cleared: false };
        timers.push(t);
        return t;
      },
      clear(t: unknown) {
        (t as { cleared: boolean }).cleared = true;
      },
    };
    const renewed: string[] = [];
    const errors: unknown[] = [];
    const stop = c.manager.autoRenew({
      scheduler,
      onRenewed: (s) => renewed.push(s.grantId),
      onError: (e) => errors.push(e),
    });
    await vi.waitFor(() => expect(timers.length).toBe(1));
    // Armed for the start of the 5-minute window: 55 minutes from now.
    expect(timers[0]?.delayMs).toBe(55 * 60_000);
    expect(c.prompts()).toBe(1);
    now += 55 * 60_000;
    node.offset = 55 * 60_000;
    try {
      await timers[0]?.run();
      expect(c.prompts()).toBe(2);
      const current = await c.manager.resume();
      expect(current?.grantId).not.toBe(first.grantId);
      expect(renewed).toEqual([current?.grantId]);
      // The next timer waits for the new session's window; an action now asks nothing.
      expect(timers.length).toBe(2);
      expect(timers[1]?.delayMs).toBe(55 * 60_000);
      expect((await c.social.post("after the timer renewed")).status).toBe("accepted");
      expect(c.prompts()).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      node.offset = 0;
      stop();
    }
    expect(timers[1]?.cleared).toBe(true);
  });

  it("autoRenew(): a declined renewal is reported once and not asked again; the timer and an action share one prompt", async () => {
    let now = Date.now();
    const wallet = newWalletFile();
    const c = testClient(node.url, { wallet, clock: () => now, renewBeforeMs: 5 * 60_000 });
    await c.manager.start(policy(["post"], {}, 3_600_000));
    const timers: (() => Promise<void>)[] = [];
    const scheduler = {
      set: (run: () => Promise<void>) => timers.push(run),
      clear: () => {},
    };
    const errors: unknown[] = [];
    let declined = 0;
    c.manager.autoRenew({ scheduler, onError: (e) => errors.push(e) });
    await vi.waitFor(() => expect(timers.length).toBe(1));
    now += 56 * 60_000;
    node.offset = 56 * 60_000;
    try {
      // The timer fires while an action in the window renews too: one renewal, one prompt.
      await Promise.all([timers[0]?.(), c.social.post("racing the timer")]);
      expect(c.prompts()).toBe(2);
      // The renewed session's wallet now refuses (declined): reported, nothing more armed.
      const declining = new SessionManager({
        store: c.store,
        api: c.api,
        walletAddress: wallet.address,
        app: app("test device"),
        clock: () => now,
        renewBeforeMs: 5 * 60_000,
        wallet: {
          address: wallet.address,
          signMessage: async () => {
            declined++;
            throw new Error("the person declined");
          },
          signTransactions: async () => {
            throw new Error("the person declined");
          },
        },
      });
      now += 56 * 60_000;
      node.offset = 112 * 60_000;
      const before = timers.length;
      declining.autoRenew({ scheduler, onError: (e) => errors.push(e) });
      await vi.waitFor(() => expect(timers.length).toBe(before + 1));
      await timers.at(-1)?.();
      expect(errors.length).toBe(1);
      expect(declined).toBe(1);
      expect(timers.length).toBe(before + 1);
    } finally {
      node.offset = 0;
    }
  });

  it("five actions racing into the renew window share ONE renewal prompt", async () => {
    let now = Date.now();
    const c = testClient(node.url, { clock: () => now });
    const first = await c.manager.start(policy(["post"], {}, 3_600_000));
    now += 56 * 60_000;
    node.offset = 56 * 60_000;
    try {
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => c.social.post(`racing ${i}`)),
      );
      console.log(
        "DEBUG",
        results.map((r) => (r.status === "queued" ? String(r.error) : r.status)),
      );
      expect(results.map((r) => r.status)).toEqual(Array(5).fill("accepted"));
      expect(c.prompts()).toBe(2);
      const sessions = await c.manager.list();
      expect(sessions.length).toBe(2);
      const renewed = sessions.find((s) => s.grant !== first.grantId);
      expect(renewed?.used).toEqual({ post: 5 });
    } finally {
      node.offset = 0;
    }
  });

  it("a declined renewal is not asked again by the same client; the session acts until it ends", async () => {
    let now = Date.now();
    const c = testClient(node.url, { clock: () => now });
    const first = await c.manager.start(policy(["post"], {}, 3_600_000));
    const errors: unknown[] = [];
    const wallet = {
      address: c.address,
      signMessage: async () => {
        throw new Error("the person declined");
      },
      signTransactions: async () => {
        throw new Error("the person declined");
      },
    };
    const declining = testClient(node.url, {
      wallet: { path: c.walletPath, address: c.address },
      store: c.store,
      clock: () => now,
      onRenewError: (e) => errors.push(e),
    });
    declining.manager.connect(wallet);
    now += 55 * 60_000;
    node.offset = 55 * 60_000;
    try {
      expect((await declining.social.post("one")).status).toBe("accepted");
      expect((await declining.social.post("two")).status).toBe("accepted");
      expect(errors.length).toBe(1);
      expect((await declining.manager.resume())?.grantId).toBe(first.grantId);
    } finally {
      node.offset = 0;
    }
  });

  it("renew() with no session: a typed client error (NOTHING_TO_RENEW); renew without a wallet: WALLET_REQUIRED", async () => {
    const c = testClient(node.url);
    const e = await c.manager.renew().catch((x: unknown) => x);
    expect(isClientError(e, "NOTHING_TO_RENEW")).toBe(true);
    await c.manager.start(policy(["post"]));
    const bare = new SessionManager({
      store: c.store,
      api: c.api,
      app: app("test device"),
      walletAddress: c.address,
    });
    const w = await bare.renew().catch((x: unknown) => x);
    expect(isClientError(w, "WALLET_REQUIRED")).toBe(true);
    expect((w as SesameClientError<"WALLET_REQUIRED">).context.step).toBe("starting a session");
  });

  it("ensure() for a scope the grant lacks: one prompt, and the new grant keeps what the old one allowed", async () => {
    const c = testClient(node.url);
    await c.manager.start(policy(["post", "react"], { post: { total: 100, perHour: 50 } }));
    const more = await c.manager.ensure(policy(["follow"], { follow: { total: 5 } }));
    expect(c.prompts()).toBe(2);
    expect(more.grant.scopes).toEqual(["post", "react", "follow"]);
    expect(more.grant.limits.post).toEqual({ total: 100, perHour: 50 });
    expect(more.grant.limits.follow).toEqual({ total: 5, perHour: null });
    expect((await c.social.follow(c.address)).status).toBe("accepted");
    expect((await c.social.post("still allowed")).status).toBe("accepted");
    await c.manager.ensure(
      policy(["post", "follow"], { post: { total: 10, perHour: 5 }, follow: { total: 1 } }),
    );
    expect(c.prompts()).toBe(2);
  });
});

describe("protocol refusals surface as ProtocolError with a code an app can switch on", () => {
  it("over the cap: 4002 OVER_CAP", async () => {
    const c = testClient(node.url);
    await c.manager.start(policy(["post"], { post: { total: 2 } }));
    await c.social.post("1");
    await c.social.post("2");
    const e = await c.social.post("3").catch((x: unknown) => x);
    expect(isProtocolError(e, ErrorCode.OVER_CAP)).toBe(true);
    expect((e as ProtocolError<typeof ErrorCode.OVER_CAP>).context).toEqual({
      scope: "post",
      cap: 2,
      ordinal: 3,
    });
    expect((e as ProtocolError).name).toBe("OVER_CAP");
  });

  it("over the hourly rate: 4003 OVER_RATE, and the action stays queued (it is valid later)", async () => {
    const c = testClient(node.url, { retry: false });
    const s = await c.manager.start(policy(["post"], { post: { perHour: 3 } }));
    for (let i = 0; i < 3; i++) await c.social.post(`${i}`);
    const held = await c.social.post("4th within the hour");
    expect(held.status).toBe("queued");
    if (held.status !== "queued") throw new Error("unreachable");
    expect(isProtocolError(held.error, ErrorCode.OVER_RATE)).toBe(true);
    expect((held.error as ProtocolError<typeof ErrorCode.OVER_RATE>).context).toEqual({
      scope: "post",
      perHour: 3,
    });
    expect((await c.store.getRecord(s.slot))?.outbox.length).toBe(1);
  });

  it("revoked: 4007 SESSION_REVOKED, from this device and from the node", async () => {
    const wallet = newWalletFile();
    const a = testClient(node.url, { wallet, app: app("A") });
    const b = testClient(node.url, { wallet, app: app("B") });
    const sa = await a.manager.start(POSTS);
    await b.manager.start(POSTS);
    await b.manager.revoke(sa.grantId); // from the other device
    const e = await a.social.post("refused by the node").catch((x: unknown) => x);
    expect(isProtocolError(e, ErrorCode.SESSION_REVOKED)).toBe(true);
    const refusal = (e as ProtocolError<typeof ErrorCode.SESSION_REVOKED>).context;
    expect(refusal.grantId).toBe(sa.grantId);
    // The device records the revocation time the node's 4007 names, not its own clock.
    expect(await a.manager.status()).toMatchObject({
      state: "revoked",
      revokedAt: refusal.revokedAt,
    });
    const sb = await b.manager.revoke();
    expect(await codeOf(b.social.post("refused locally"))).toBe(ErrorCode.SESSION_REVOKED);
    // Revoked here: the time the wallet signed in the revocation (verified from the list).
    const listed = (await b.social.sessions()).find((s) => s.grant !== sa.grantId);
    const signed = parseRevocationText(listed?.revocation?.text ?? "");
    expect(signed.target).toEqual({ kind: "grant", grant: listed?.grant });
    expect(sb.duplicate).toBe(false);
    expect(await b.manager.status()).toMatchObject({
      state: "revoked",
      revokedAt: signed.issuedAt,
    });
  });

  it("revoked everywhere from another device: the next action's 4007 destroys this device's keys, a replaced session's too", async () => {
    const wallet = newWalletFile();
    const a = testClient(node.url, { wallet, app: app("A") });
    const b = testClient(node.url, { wallet, app: app("B") });
    const first = await a.manager.start(POSTS);
    const second = await a.manager.renew();
    expect(await a.store.loadKeys(first.record.keyId)).toBeDefined();
    await b.manager.start(POSTS);
    await b.manager.revokeAll();
    expect(await codeOf(a.social.post("after revoke-all elsewhere"))).toBe(
      ErrorCode.SESSION_REVOKED,
    );
    expect(await a.store.loadKeys(second.record.keyId)).toBeUndefined();
    expect(await a.store.loadKeys(first.record.keyId)).toBeUndefined();
    expect((await a.store.getRecord(second.slot))?.retired).toEqual([]);
  });

  it("a scope not granted: 4001, checked before anything is signed", async () => {
    const c = testClient(node.url);
    await c.manager.start(policy(["post"]));
    expect(await codeOf(c.social.follow(c.address))).toBe(ErrorCode.SCOPE_NOT_GRANTED);
  });

  it("no session yet: 6001 NOT_FOUND", async () => {
    const c = testClient(node.url);
    expect(await codeOf(c.social.post("no session"))).toBe(ErrorCode.NOT_FOUND);
  });
});

describe("expiry", () => {
  let clockNode: TestNode;
  beforeAll(async () => {
    clockNode = await startTestNode();
  });
  afterAll(async () => clockNode.close());

  it("expired: 4008 SESSION_EXPIRED, from the node (late delivery) and from this device", async () => {
    let now = Date.now();
    const c: TestClient = testClient(clockNode.url, { clock: () => now });
    await c.manager.start(policy(["post"], {}, 60_000));
    await c.social.post("in time");
    // The node's clock passes the expiry and its grace for late delivery; the device
    // still stamps inside the window.
    clockNode.offset = 60_000 + 11 * 60_000;
    const e = await c.social.post("too late").catch((x: unknown) => x);
    expect(isProtocolError(e, ErrorCode.SESSION_EXPIRED)).toBe(true);
    // The device's own clock passes the expiry: refused before signing.
    now += 61_000;
    expect(await codeOf(c.social.post("after expiry"))).toBe(ErrorCode.SESSION_EXPIRED);
    expect((await c.manager.status()).state).toBe("expired");
  });
});
