/**
 * The web app with the keyboard alone, on a phone-width screen, and in its refusal states
 * (over cap, over rate, node unreachable), in Debian's Chromium against the node as
 * `npm start` starts it. Screenshots go to test-results/screenshots/.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
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

/** The focused element as "tag:accessible name" ("" when nothing is focused). */
async function focused(page: Page): Promise<string> {
  return await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (el === null || el === document.body) return "";
    const labels = (el as HTMLInputElement).labels;
    const name =
      el.getAttribute("aria-label") ??
      (labels !== undefined && labels !== null && labels.length > 0
        ? labels[0]?.textContent
        : el.textContent) ??
      "";
    return `${el.tagName.toLowerCase()}:${name.replace(/\s+/g, " ").trim()}`;
  });
}

/** Presses Tab until the focused control matches; fails if it is never reached. */
async function tabTo(page: Page, match: RegExp, most = 120): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < most; i++) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    if (match.test(now)) {
      // Keyboard focus must be visible.
      const outline = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const style = getComputedStyle(el);
        return style.outlineStyle !== "none" && style.outlineWidth !== "0px";
      });
      expect(outline, `focus ring on ${now}`).toBe(true);
      return;
    }
    seen.push(now);
  }
  throw new Error(`Tab never reached ${match}; it went through: ${seen.join(" | ")}`);
}

/** Visible controls with no accessible name (no label, aria-label, or text). */
async function unnamedControls(page: Page): Promise<string[]> {
  return await page.evaluate(() =>
    Array.from(document.querySelectorAll("button, input, select, textarea, a[href]"))
      .filter((el) => (el as HTMLElement).offsetParent !== null)
      .filter((el) => {
        const e = el as HTMLInputElement;
        const by = e.getAttribute("aria-labelledby");
        const name =
          e.getAttribute("aria-label") ??
          (by !== null ? document.getElementById(by)?.textContent : null) ??
          (e.labels !== null && e.labels !== undefined && e.labels.length > 0
            ? e.labels[0]?.textContent
            : null) ??
          (el.tagName === "BUTTON" || el.tagName === "A" ? el.textContent : null) ??
          e.title;
        return name === null || name === undefined || name.trim() === "";
      })
      .map((el) => el.outerHTML.slice(0, 160)),
  );
}

/** Whether the page scrolls sideways (it must not, even on a phone). */
async function overflowsSideways(page: Page): Promise<boolean> {
  return await page.evaluate(
    () => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1,
  );
}

async function checkPage(page: Page, what: string): Promise<void> {
  expect(await unnamedControls(page), `unnamed controls on ${what}`).toEqual([]);
  expect(await overflowsSideways(page), `${what} scrolls sideways`).toBe(false);
}

async function profileCounts(base: string, wallet: string): Promise<{ posts: number }> {
  return (await (await fetch(`${base}/v1/wallets/${wallet}/profile`)).json()) as { posts: number };
}

describe.skipIf(!browserTestsCanRun())("the web app: keyboard, phone width, refusals", () => {
  let node: ChildProcess;
  let port: number;
  let base: string;
  let dataDir: string;
  let browser: Browser;

  beforeAll(async () => {
    port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), "sesame-e2e-states-"));
    node = await startNode(dataDir, port);
    base = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (node !== undefined) await stopNode(node);
  });

  it("keyboard alone on a phone-width screen: connect, consent, one prompt, post, like, every page", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(base);
    await page.getByRole("button", { name: /Sesame Dev Wallet/ }).waitFor();
    await checkPage(page, "the connect screen");
    await tabTo(page, /^button:.*Sesame Dev Wallet/);
    await page.keyboard.press("Enter");
    await page
      .getByTestId("consent-text")
      .filter({ hasText: "wants you to start a Sesame session" })
      .waitFor();
    await checkPage(page, "the consent screen");
    // A cap typed with the keyboard reaches the text the wallet signs.
    await tabTo(page, /^input:Post: at most in total$/);
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("7");
    await page
      .getByTestId("consent-text")
      .filter({ hasText: "- post: at most 7 in total" })
      .waitFor();
    const consent = (await page.getByTestId("consent-text").textContent()) ?? "";
    await tabTo(page, /^button:Sign once with your wallet/);
    await page.keyboard.press("Enter");
    // The wallet's dialog takes the focus on its Approve button.
    await page.getByTestId("wallet-dialog").waitFor();
    expect(await focused(page)).toBe("button:Approve");
    expect(await page.getByTestId("wallet-message").textContent()).toBe(consent);
    await shot(page, "7a-keyboard-wallet-dialog-phone");
    await page.keyboard.press("Enter");
    await page.getByTestId("wallet-dialog").waitFor({ state: "detached" });
    await page.getByLabel("What's happening?").waitFor();
    expect(await signatures(page)).toBe(1);
    await checkPage(page, "the home feed");

    await tabTo(page, /^textarea:What's happening\?$/);
    await page.keyboard.type("Typed and sent with the keyboard alone");
    await tabTo(page, /^button:Post$/);
    await page.keyboard.press("Enter");
    const mine = page
      .getByTestId("post")
      .filter({ hasText: "Typed and sent with the keyboard alone" })
      .first();
    await mine.waitFor();
    // Like it: Tab from the composer into the feed reaches the first post's Like button.
    await tabTo(page, /^button:Like, /);
    await page.keyboard.press("Enter");
    await mine.getByRole("button", { name: "Like" }).filter({ hasText: "1" }).waitFor();

    for (const tab of ["Messages", "Profile", "Sessions"]) {
      await page.keyboard.press("Shift+Tab"); // from deep in the feed, back up is shorter
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await tabTo(page, new RegExp(`^button:${tab}$`));
      await page.keyboard.press("Enter");
      await page.getByRole("button", { name: tab, pressed: true }).waitFor();
      await checkPage(page, `the ${tab} page`);
    }
    await page.getByTestId("session").first().waitFor();
    await shot(page, "7b-keyboard-sessions-phone");
    expect(await signatures(page)).toBe(1);
    await context.close();
  }, 120_000);

  it("over cap and over rate: the refusal names the limit, nothing beyond it is stored, no prompt", async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    const { consent } = await connectAndStart(page, base, {
      limits: { post: { total: 2 }, react: { perHour: 1 } },
    });
    const wallet = consent.split("\n")[1] ?? "";
    await post(page, "Capped post one");
    await post(page, "Capped post two");
    await page.getByLabel("What's happening?").fill("Capped post three");
    await page.getByRole("button", { name: "Post", exact: true }).click();
    const alert = page.getByTestId("status");
    await alert.filter({ hasText: "cap of 2" }).waitFor();
    expect(await alert.textContent()).toContain("post");
    await alert.getByRole("button", { name: "Start a new session" }).waitFor();
    await shot(page, "7c-over-cap");
    expect((await profileCounts(base, wallet)).posts).toBe(2);

    const like = (text: string) =>
      page
        .getByTestId("post")
        .filter({ hasText: text })
        .first()
        .getByRole("button", { name: "Like" });
    await like("Capped post one").click();
    await like("Capped post one").filter({ hasText: "1" }).waitFor();
    // Liked once: the button says so and cannot spend the cap on the same like again.
    expect(await like("Capped post one").getAttribute("aria-pressed")).toBe("true");
    expect(await like("Capped post one").isDisabled()).toBe(true);
    await like("Capped post two").click();
    await alert.filter({ hasText: "Slow down" }).waitFor();
    expect(await alert.textContent()).toContain("1 “react” per hour");
    await shot(page, "7d-over-rate");
    const sessions = (await (await fetch(`${base}/v1/wallets/${wallet}/sessions`)).json()) as {
      items: { used: Record<string, number>; status: string }[];
    };
    expect(sessions.items.find((s) => s.status === "active")?.used).toMatchObject({
      post: 2,
      react: 1,
    });
    expect(await signatures(page)).toBe(1);
    await context.close();
  }, 120_000);

  it("node unreachable: the post is queued, said so, and sent once when the node is back", async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    const { consent } = await connectAndStart(page, base);
    const wallet = consent.split("\n")[1] ?? "";
    await post(page, "Before the node went away");
    await stopNode(node);
    await page.getByLabel("What's happening?").fill("Written while the node was down");
    await page.getByRole("button", { name: "Post", exact: true }).click();
    const alert = page.getByTestId("status");
    await alert.filter({ hasText: "The node is unreachable" }).waitFor();
    expect(await alert.textContent()).toContain("queued");
    await shot(page, "7e-node-unreachable-queued");
    // Back on the same data directory and port: the app's retry sends the outbox.
    node = await startNode(dataDir, port);
    await page
      .getByTestId("post")
      .filter({ hasText: "Written while the node was down" })
      .first()
      .waitFor({ timeout: 30_000 });
    await alert.waitFor({ state: "detached" });
    const feed = (await (await fetch(`${base}/v1/wallets/${wallet}/posts?limit=10`)).json()) as {
      items: { payload: { body: { text: string } } }[];
    };
    expect(feed.items.map((p) => p.payload.body.text)).toEqual([
      "Written while the node was down",
      "Before the node went away",
    ]);
    expect(await signatures(page)).toBe(1);
    await shot(page, "7f-node-back-sent");
    await context.close();
  }, 120_000);

  it("expired: the app offers to renew, shows the same permissions again, and renewing costs one prompt", async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    // The page's clock: real time, until the test moves it past the session's end.
    await context.clock.install({ time: new Date() });
    const page = await context.newPage();
    await page.goto(base);
    await page.getByRole("button", { name: /Sesame Dev Wallet/ }).click();
    const consentBox = page.getByTestId("consent-text");
    await consentBox.filter({ hasText: "wants you to start a Sesame session" }).waitFor();
    await page.getByLabel("Duration").selectOption("1");
    await page.getByLabel("Post: at most in total", { exact: true }).fill("7");
    await consentBox.filter({ hasText: "- post: at most 7 in total" }).waitFor();
    await page.getByRole("button", { name: /Sign once with your wallet/ }).click();
    await approveNextPrompt(page);
    await post(page, "Posted before the session ran out");
    expect(await signatures(page)).toBe(1);

    await page.clock.fastForward("01:05:00");
    await page.getByLabel("What's happening?").fill("Posted after the session ran out");
    await page.getByRole("button", { name: "Post", exact: true }).click();
    const alert = page.getByTestId("status");
    await alert.filter({ hasText: "expired" }).waitFor();
    await shot(page, "7g-expired-offer-renew");
    await alert.getByRole("button", { name: "Renew session" }).click();
    // The consent screen again, with the permissions of the session that ended.
    await page.getByText("Renew your session").waitFor();
    await consentBox.filter({ hasText: "- post: at most 7 in total" }).waitFor();
    expect(await page.getByLabel("Duration").inputValue()).toBe("1");
    // Back to real time (the node's clock) before the grant is made again.
    await page.clock.setSystemTime(new Date());
    await page.getByLabel("Duration").selectOption("24");
    await page.getByLabel("Duration").selectOption("1");
    await consentBox.filter({ hasText: "- post: at most 7 in total" }).waitFor();
    const renewed = (await consentBox.textContent()) ?? "";
    await page.getByRole("button", { name: /Sign once with your wallet/ }).click();
    const signed = await approveNextPrompt(page);
    expect(signed.text).toBe(renewed);
    expect(await signatures(page)).toBe(2);
    await post(page, "Posted after renewing");
    expect(await signatures(page)).toBe(2);
    await context.close();
  }, 120_000);

  it("a rejected wallet prompt starts nothing and says so", async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    await page.goto(base);
    await page.getByRole("button", { name: /Sesame Dev Wallet/ }).click();
    await page
      .getByTestId("consent-text")
      .filter({ hasText: "wants you to start a Sesame session" })
      .waitFor();
    await page.getByRole("button", { name: /Sign once with your wallet/ }).click();
    const dialog = page.getByTestId("wallet-dialog");
    await dialog.waitFor();
    // A modal: Tab cycles between its buttons and never reaches the consent screen behind it.
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      seen.add(await focused(page));
    }
    expect([...seen].sort()).toEqual(["button:Approve", "button:Reject"]);
    // While the wallet is asked, the consent choices cannot change under it.
    expect(await page.getByLabel("Post: at most in total", { exact: true }).isDisabled()).toBe(
      true,
    );
    await page.keyboard.press("Escape"); // Escape rejects
    await dialog.waitFor({ state: "detached" });
    await page
      .getByRole("alert")
      .filter({ hasText: /reject|declin|cancel/i })
      .waitFor();
    expect(await page.getByLabel("What's happening?").count()).toBe(0);
    // Trying again is possible and costs the one prompt.
    await page.getByRole("button", { name: /Sign once with your wallet/ }).click();
    await approveNextPrompt(page);
    await page.getByLabel("What's happening?").waitFor();
    expect(await signatures(page)).toBe(1);
    await context.close();
  }, 120_000);
});
