/**
 * The web app end to end in Debian's Chromium, against the node and app started as
 * `npm start` starts them (built dist, PGlite data directory, seeded demo data).
 * Screenshots of every step go to test-results/screenshots/ (and to docs/screenshots/
 * when SESAME_UPDATE_SCREENSHOTS=1).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");
const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(ROOT, "test-results/screenshots");
const DOC_SHOTS = join(ROOT, "docs/screenshots");
const ready =
  existsSync(join(ROOT, "apps/web/dist/index.html")) &&
  existsSync(join(ROOT, "packages/node/dist/main.js"));

async function freePort(): Promise<number> {
  return await new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.SESAME_UPDATE_SCREENSHOTS === "1") {
    mkdirSync(DOC_SHOTS, { recursive: true });
    copyFileSync(file, join(DOC_SHOTS, `${name}.png`));
  }
}

async function signatures(page: Page): Promise<number> {
  const text = (await page.getByTestId("signature-count").textContent()) ?? "";
  return Number(/(\d+)/.exec(text)?.[1] ?? Number.NaN);
}

async function approveNextPrompt(page: Page): Promise<string> {
  const dialog = page.getByTestId("wallet-dialog");
  await dialog.waitFor();
  const text = (await page.getByTestId("wallet-message").textContent()) ?? "";
  await dialog.getByRole("button", { name: "Approve" }).click();
  await dialog.waitFor({ state: "detached" });
  return text;
}

/** Connects the dev wallet, checks the consent text is what gets signed, approves once. */
async function connectAndStart(
  page: Page,
  base: string,
): Promise<{ consent: string; signed: string }> {
  await page.goto(base);
  await page.getByRole("button", { name: /Sesame Dev Wallet/ }).click();
  const consentBox = page.getByTestId("consent-text");
  await consentBox.filter({ hasText: "wants you to start a Sesame session" }).waitFor();
  const consent = (await consentBox.textContent()) ?? "";
  await page.getByRole("button", { name: /Sign once with your wallet/ }).click();
  const signed = await approveNextPrompt(page);
  await page.getByLabel("What's happening?").waitFor();
  return { consent, signed };
}

async function expectNoAlert(page: Page): Promise<void> {
  expect(await page.getByTestId("status").count()).toBe(0);
}

const chromiumThere = existsSync(CHROMIUM);
if (!chromiumThere && process.env.CI !== "true") {
  console.warn(
    `SKIPPING the browser tests: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does this)`,
  );
}
if (process.env.CI === "true" && (!ready || !chromiumThere)) {
  throw new Error(
    "CI must run the browser tests: build the app (npm run build) and install chromium",
  );
}

describe.skipIf(!ready || !chromiumThere)("the web app in Chromium", () => {
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
    node = spawn(process.execPath, [join(ROOT, "packages/node/dist/main.js")], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        SESAME_DATA_DIR: dataDir,
        DATABASE_URL: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/health`)).ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error("the node did not start");
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
    alice = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    bob = await browser.newContext({ viewport: { width: 390, height: 844 } });
    a = await alice.newPage();
    b = await bob.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    node?.kill("SIGTERM");
  });

  it("1. connect: the consent text is exactly what the wallet signs, for one prompt", async () => {
    const { consent, signed } = await connectAndStart(a, base);
    expect(signed).toBe(consent);
    expect(await signatures(a)).toBe(1);
    aliceWallet = consent.split("\n")[1] ?? "";
    const sessions = (await (await fetch(`${base}/v1/wallets/${aliceWallet}/sessions`)).json()) as {
      items: { text: string }[];
    };
    expect(sessions.items.map((s) => s.text)).toContain(consent);
    await shot(a, "1-session-started");
  }, 60_000);

  it("2. twenty mixed actions cost no further prompt", async () => {
    // Bob, on a phone-width screen, starts a session so Alice can message him.
    const bobStart = await connectAndStart(b, base);
    bobWallet = bobStart.consent.split("\n")[1] ?? "";
    let done = 0;
    const post = async (text: string) => {
      await a.getByLabel("What's happening?").fill(text);
      await a.getByRole("button", { name: "Post", exact: true }).click();
      await a.getByTestId("post").filter({ hasText: text }).first().waitFor();
      done++;
    };
    for (let i = 1; i <= 12; i++) await post(`Post number ${i} from Alice's session key`);
    for (let i = 1; i <= 3; i++) {
      const card = a.getByTestId("post").filter({ hasText: "Post number 12" }).first();
      await card.getByRole("button", { name: "Reply", exact: true }).click();
      await card.getByPlaceholder("Write a reply").fill(`Reply ${i}`);
      await card.getByRole("button", { name: "Send reply" }).click();
      await a
        .getByTestId("post")
        .filter({ hasText: "Post number 12" })
        .first()
        .getByText(`${i} repl`)
        .waitFor();
      done++;
    }
    for (const n of [11, 10]) {
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
    const profile = (await (await fetch(`${base}/v1/wallets/${aliceWallet}/profile`)).json()) as {
      following: number;
      posts: number;
    };
    expect(profile).toMatchObject({ following: 1, posts: 12 });
    await expectNoAlert(a);
    expect(done).toBe(20);
    expect(await signatures(a)).toBe(1);
    await shot(a, "2-after-20-actions");
    await shot(b, "2-phone-width-feed");
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
