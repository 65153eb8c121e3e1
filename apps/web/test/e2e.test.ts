/**
 * The web app end to end in Debian's Chromium, against the node and app started as
 * `npm start` starts them (built dist, PGlite data directory, seeded demo data).
 * Screenshots of every step go to test-results/screenshots/ (and to docs/screenshots/
 * when SESAME_UPDATE_SCREENSHOTS=1).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRANT_MEMO_PREFIX, grantIdOfText } from "@sesame/protocol";
import { decodeTokenAccount, mainTokenAccountAddress, rpcChain } from "@sesame/solana/client";
import { address } from "@solana/kit";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  approveNextPrompt,
  browserTestsCanRun,
  connectAndStart,
  freePort,
  launchChromium,
  post,
  shot,
  signatures,
  startNode,
  stopNode,
} from "./browser.js";

/** A wallet's balance of the node's demo token, base units, read over the node's /rpc. */
async function demoTokens(base: string, owner: string): Promise<bigint> {
  const info = (await (await fetch(`${base}/v1/chain`)).json()) as {
    demoMint: { address: string };
  };
  const chain = rpcChain(`${base}/rpc`);
  const ata = await mainTokenAccountAddress(address(owner), address(info.demoMint.address));
  return decodeTokenAccount(await chain.getAccount(ata))?.amount ?? 0n;
}

const TOKEN = 1_000_000n; // the demo mint has 6 decimals

async function expectNoAlert(page: Page): Promise<void> {
  expect(await page.getByTestId("status").count()).toBe(0);
}

describe.skipIf(!browserTestsCanRun())("the web app in Chromium", () => {
  let node: ChildProcess;
  let base: string;
  let dataDir: string;
  let browser: Browser;
  let alice: BrowserContext;
  let bob: BrowserContext;
  let a: Page;
  let b: Page;
  let aliceWallet = "";
  let bobWallet = "";

  beforeAll(async () => {
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), "sesame-e2e-"));
    node = await startNode(dataDir, port);
    base = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
    alice = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    bob = await browser.newContext({ viewport: { width: 390, height: 844 } });
    a = await alice.newPage();
    b = await bob.newPage();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (node !== undefined) await stopNode(node);
  });

  it("1. connect with a tip budget: ONE prompt, the START transaction, carrying exactly the consent text", async () => {
    const { consent, signed, grantIdShown } = await connectAndStart(a, base, {
      tipBudget: "10",
      screenshots: { consent: "1a-consent-with-tip-budget", wallet: "1b-wallet-signs-start" },
    });
    expect(await signatures(a)).toBe(1);
    aliceWallet = consent.split("\n")[1] ?? "";
    // The one prompt is a transaction: it funds the device's session account, makes the
    // session key its delegate for the budget, tops the key up, and carries the grant.
    expect(signed.transaction).toBe(true);
    expect(signed.text).toContain(`fee paid by ${aliceWallet}`);
    for (const step of ["TransferChecked", "ApproveChecked", "system Transfer", "memo Memo"])
      expect(signed.text).toContain(step);
    expect(signed.text).toContain("move 10 (10000000 base units)");
    // Its memo is the consent text itself, or the id of exactly that text.
    expect(signed.memos).toHaveLength(1);
    expect([consent, `${GRANT_MEMO_PREFIX}${grantIdOfText(consent)}`]).toContain(signed.memos[0]);
    // When only the id fits, the consent screen showed that very id next to the text.
    if (signed.memos[0] !== consent) expect(grantIdShown).toBe(signed.memos[0]);
    // The node stored exactly the consent text, in transaction form.
    const sessions = (await (await fetch(`${base}/v1/wallets/${aliceWallet}/sessions`)).json()) as {
      items: { text: string; grant: string }[];
    };
    const mine = sessions.items.find((s) => s.text === consent);
    expect(mine).toBeDefined();
    const stored = (await (await fetch(`${base}/v1/grants/${mine?.grant}`)).json()) as {
      text: string;
      form: string;
    };
    expect(stored).toMatchObject({ text: consent, form: "transaction" });
    // The faucet gave the dev wallet 100 tokens on connect; 10 are in the session account.
    expect(await demoTokens(base, aliceWallet)).toBe(90n * TOKEN);
    await a.getByTestId("tip-budget").filter({ hasText: "10 of 10 tokens" }).waitFor();
    await shot(a, "1-session-started");
  }, 60_000);

  it("2. twenty mixed actions cost no further prompt", async () => {
    // Bob, on a phone-width screen, starts a session so Alice can message him.
    const bobStart = await connectAndStart(b, base);
    bobWallet = bobStart.consent.split("\n")[1] ?? "";
    // Without tips, the one prompt is a message: exactly the consent text.
    expect(bobStart.signed).toMatchObject({ transaction: false, text: bobStart.consent });
    let done = 0;
    for (let i = 1; i <= 11; i++) {
      await post(a, `Post number ${i} from Alice's session key`);
      done++;
    }
    for (let i = 1; i <= 3; i++) {
      const card = a.getByTestId("post").filter({ hasText: "Post number 11" }).first();
      await card.getByRole("button", { name: "Reply", exact: true }).click();
      await card.getByPlaceholder("Write a reply").fill(`Reply ${i}`);
      await card.getByRole("button", { name: "Send reply" }).click();
      await a
        .getByTestId("post")
        .filter({ hasText: "Post number 11" })
        .first()
        .getByText(`${i} repl`)
        .waitFor();
      done++;
    }
    for (const n of [10, 9]) {
      const card = a
        .getByTestId("post")
        .filter({ hasText: `Post number ${n} ` })
        .first();
      await card.getByRole("button", { name: "Like" }).click();
      await card.getByRole("button", { name: "Like" }).filter({ hasText: "1" }).waitFor();
      done++;
    }
    await a.getByRole("button", { name: "Profile" }).click();
    await a.getByLabel("Display name").fill("Alice in Chromium");
    await a.getByRole("button", { name: "Save profile" }).click();
    await a.getByRole("heading", { name: "Alice in Chromium" }).waitFor();
    done++;
    await a.goto(`${base}/`);
    await a.getByLabel("What's happening?").waitFor();
    await a.getByRole("button", { name: "Messages" }).click();
    await a.getByLabel("To (wallet address)").fill(bobWallet);
    await a.getByLabel("Message", { exact: true }).fill("Hi Bob, this is end-to-end encrypted.");
    await a.getByRole("button", { name: "Send encrypted" }).click();
    await a.getByTestId("dm-text").filter({ hasText: "Hi Bob" }).waitFor();
    done++;
    // Follow the author of a seeded post.
    await a.getByRole("button", { name: "Home" }).click();
    const seeded = a.getByTestId("post").filter({ hasText: "Hot take" }).first();
    await seeded.getByRole("button", { name: "Follow" }).click();
    for (let i = 0; i < 50; i++) {
      const p = (await (await fetch(`${base}/v1/wallets/${aliceWallet}/profile`)).json()) as {
        following: number;
      };
      if (p.following === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    done++;
    // Tip the seeded post's author 1 token: the session key signs the transfer (no prompt).
    const hot = a.getByTestId("post").filter({ hasText: "Hot take" }).first();
    await hot.getByRole("button", { name: "Tip", exact: true }).click();
    await hot.getByLabel("Tip amount (tokens)").fill("1");
    await hot.getByRole("button", { name: "Send tip" }).click();
    await hot.getByTestId("tip-sent").filter({ hasText: "You tipped 1 token" }).waitFor();
    await a.getByTestId("tip-budget").filter({ hasText: "9 of 10 tokens" }).waitFor();
    done++;
    const profile = (await (await fetch(`${base}/v1/wallets/${aliceWallet}/profile`)).json()) as {
      following: number;
      posts: number;
    };
    expect(profile).toMatchObject({ following: 1, posts: 11 });
    // The node accepted the tip (it verified the transfer on chain); the author has it.
    const sessions = (await (await fetch(`${base}/v1/wallets/${aliceWallet}/sessions`)).json()) as {
      items: { used: Record<string, number>; status: string }[];
    };
    expect(sessions.items.find((s) => s.status === "active")?.used.tip).toBe(1);
    const feed = (await (await fetch(`${base}/v1/feed?limit=100`)).json()) as {
      items: { wallet: string; payload: { body: { text?: string } } }[];
    };
    const author = feed.items.find((p) => p.payload.body.text?.includes("Hot take"))?.wallet;
    expect(await demoTokens(base, author ?? "")).toBe(TOKEN);
    await expectNoAlert(a);
    expect(done).toBe(20);
    expect(await signatures(a)).toBe(1);
    await shot(a, "2-after-20-actions");
    await shot(b, "2-phone-width-feed");

    // Over the budget: the token program refuses; the app says so in words; no prompt.
    await hot.getByRole("button", { name: "Tip", exact: true }).click();
    await hot.getByLabel("Tip amount (tokens)").fill("50");
    await hot.getByRole("button", { name: "Send tip" }).click();
    const alert = a.getByTestId("status");
    await alert.filter({ hasText: "Over your tip budget" }).waitFor();
    expect(await alert.textContent()).toMatch(/insufficient funds/i);
    await a.getByTestId("tip-budget").filter({ hasText: "9 of 10 tokens" }).waitFor();
    expect(await signatures(a)).toBe(1);
    await shot(a, "2b-tip-over-budget");
  }, 180_000);

  it("3. a reload resumes the session with no prompt", async () => {
    await a.reload();
    await a.getByLabel("What's happening?").waitFor();
    expect(await signatures(a)).toBe(1);
    await a.getByLabel("What's happening?").fill("After a reload, still no prompt");
    await a.getByRole("button", { name: "Post", exact: true }).click();
    await a.getByTestId("post").filter({ hasText: "After a reload" }).first().waitFor();
    expect(await signatures(a)).toBe(1);
    await shot(a, "3-resumed-after-reload");
  }, 60_000);

  it("3b. the session keys in IndexedDB are non-extractable CryptoKeys: exportKey is refused", async () => {
    const found = await a.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const open = indexedDB.open("sesame");
        open.onsuccess = () => res(open.result);
        open.onerror = () => rej(open.error);
      });
      const rows = await new Promise<Record<string, unknown>[]>((res, rej) => {
        const req = db.transaction("keys").objectStore("keys").getAll();
        req.onsuccess = () => res(req.result as Record<string, unknown>[]);
        req.onerror = () => rej(req.error);
      });
      db.close();
      const out: {
        field: string;
        isCryptoKey: boolean;
        extractable: boolean;
        type: string;
        algorithm: string;
        exports: string[];
      }[] = [];
      for (const row of rows) {
        for (const [field, value] of Object.entries(row)) {
          if (!(value instanceof CryptoKey)) continue;
          const exports: string[] = [];
          for (const format of ["pkcs8", "jwk", "raw"] as const) {
            try {
              await crypto.subtle.exportKey(format as "jwk", value);
              exports.push(`${format}: exported`);
            } catch (e) {
              exports.push(`${format}: ${(e as Error).name}`);
            }
          }
          out.push({
            field,
            isCryptoKey: true,
            extractable: value.extractable,
            type: value.type,
            algorithm: value.algorithm.name,
            exports,
          });
        }
      }
      return { rows: rows.length, keys: out };
    });
    // The live session's signing (Ed25519) and key-agreement (X25519) keys, at least.
    expect(found.rows).toBeGreaterThanOrEqual(1);
    expect(new Set(found.keys.map((k) => k.algorithm))).toEqual(new Set(["Ed25519", "X25519"]));
    for (const k of found.keys) {
      expect(k).toMatchObject({ isCryptoKey: true, extractable: false, type: "private" });
      // Chromium says InvalidAccessError (Node: InvalidAccessException): match loosely.
      for (const e of k.exports) expect(e).toMatch(/^(pkcs8|jwk|raw): InvalidAccess/);
    }
  }, 60_000);

  it("4. another wallet in another browser context reads the direct message", async () => {
    await b.getByRole("button", { name: "Messages" }).click();
    await b
      .getByTestId("dm-text")
      .filter({ hasText: "Hi Bob, this is end-to-end encrypted." })
      .waitFor();
    expect(await signatures(b)).toBe(1);
    await shot(b, "4-bob-reads-dm");
  }, 60_000);

  it("5. revoke on the Sessions page: the next action is refused clearly, and starting again costs one prompt", async () => {
    await a.getByRole("button", { name: "Sessions" }).click();
    const mine = a.getByTestId("session").filter({ hasText: "(this device)" });
    await mine.waitFor();
    await shot(a, "5a-sessions-page");
    await mine.getByRole("button", { name: /Revoke session/ }).click();
    await approveNextPrompt(a); // the wallet signs the revocation
    expect(await signatures(a)).toBe(2);
    await a.getByTestId("session").filter({ hasText: "revoked" }).first().waitFor();
    // Revoking also ENDed the session on chain, with no prompt: the 9 tokens left are back.
    await a
      .getByTestId("funds-account")
      .filter({ hasText: "(this device)" })
      .filter({ hasText: "holds 0 tokens" })
      .filter({ hasText: "no session key may spend it" })
      .waitFor();
    expect(await demoTokens(base, aliceWallet)).toBe(99n * TOKEN);
    expect(await signatures(a)).toBe(2);
    await a.getByRole("button", { name: "Home" }).click();
    await a.getByLabel("What's happening?").fill("This must be refused");
    await a.getByRole("button", { name: "Post", exact: true }).click();
    const alert = a.getByTestId("status");
    await alert.filter({ hasText: "revoked" }).waitFor();
    await shot(a, "5b-refused-after-revoke");
    await alert.getByRole("button", { name: "Start a new session" }).click();
    await a.getByTestId("consent-text").filter({ hasText: "wants you to start" }).waitFor();
    await a.getByRole("button", { name: /Sign once with your wallet/ }).click();
    await approveNextPrompt(a);
    expect(await signatures(a)).toBe(3);
    await a.getByLabel("What's happening?").fill("Back with a new session");
    await a.getByRole("button", { name: "Post", exact: true }).click();
    await a.getByTestId("post").filter({ hasText: "Back with a new session" }).first().waitFor();
    await shot(a, "5c-new-session");
  }, 90_000);

  it("6. the node stored the direct message as ciphertext only", async () => {
    node.kill("SIGTERM");
    await new Promise((r) => node.once("exit", r));
    const { openDatabase } = await import("@sesame/node");
    const storage = await openDatabase({ pgliteDir: dataDir });
    try {
      const rows = await storage.db.selectFrom("actions").select(["kind", "payload"]).execute();
      const dms = rows.filter((r) => r.kind === "dm");
      expect(dms.length).toBe(1);
      for (const r of rows) expect(r.payload).not.toContain("Hi Bob");
      expect(JSON.parse(dms[0]?.payload ?? "{}").body.copies.length).toBeGreaterThanOrEqual(2);
    } finally {
      await storage.close();
    }
  }, 60_000);
});
