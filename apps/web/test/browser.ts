/**
 * What the browser tests share: the node started as `npm start` starts it (built dist,
 * PGlite data directory, seeded demo data), Debian's Chromium, and the steps of the app
 * a person takes (connect, read the consent, approve the dev wallet's one prompt).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(ROOT, "test-results/screenshots");
const DOC_SHOTS = join(ROOT, "docs/screenshots");

/** Whether the app and node are built and Chromium is installed; CI must have all three. */
export function browserTestsCanRun(): boolean {
  const ready =
    existsSync(join(ROOT, "apps/web/dist/index.html")) &&
    existsSync(join(ROOT, "packages/node/dist/main.js"));
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
  return ready && chromiumThere;
}

export async function freePort(): Promise<number> {
  return await new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Starts `node packages/node/dist/main.js` on a PGlite directory and waits for /health. */
export async function startNode(
  dataDir: string,
  port: number,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const node = spawn(process.execPath, [join(ROOT, "packages/node/dist/main.js")], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      SESAME_DATA_DIR: dataDir,
      DATABASE_URL: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000; // a loaded CI machine starts slowly
  for (;;) {
    if (node.exitCode !== null) throw new Error(`the node exited with ${node.exitCode}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return node;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("the node did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops a node and waits until its process has exited (its port and directory are free). */
export async function stopNode(node: ChildProcess): Promise<void> {
  if (node.exitCode !== null || node.signalCode !== null) return;
  const exited = new Promise((r) => node.once("exit", r));
  node.kill("SIGTERM");
  await exited;
}

export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({
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
}

/** A full-page screenshot in test-results/screenshots (and docs/screenshots on request). */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.SESAME_UPDATE_SCREENSHOTS === "1") {
    mkdirSync(DOC_SHOTS, { recursive: true });
    copyFileSync(file, join(DOC_SHOTS, `${name}.png`));
  }
}

/** The dev wallet's own count of the signatures it made (kept in localStorage). */
export async function signatures(page: Page): Promise<number> {
  const text = (await page.getByTestId("signature-count").textContent()) ?? "";
  return Number(/(\d+)/.exec(text)?.[1] ?? Number.NaN);
}

/** Approves the dev wallet's next request; returns what its dialog showed. */
export async function approveNextPrompt(
  page: Page,
  screenshot?: string,
): Promise<{ text: string; memos: string[]; transaction: boolean }> {
  const dialog = page.getByTestId("wallet-dialog");
  await dialog.waitFor();
  if (screenshot !== undefined) await shot(page, screenshot);
  const text = (await page.getByTestId("wallet-message").textContent()) ?? "";
  const memos = await page.getByTestId("wallet-memo").allTextContents();
  const transaction = (await dialog.getByText("sign a transaction").count()) > 0;
  const before = await signatures(page);
  await dialog.getByRole("button", { name: "Approve" }).click();
  await dialog.waitFor({ state: "detached" });
  // The wallet counts a signature once it has made it, just after its dialog closes.
  await page
    .getByTestId("signature-count")
    .filter({ hasText: `wallet signatures: ${before + 1}` })
    .waitFor();
  return { text, memos, transaction };
}

/** The consent screen's label of each scope. */
const SCOPE_LABELS = {
  post: "Post",
  reply: "Reply",
  react: "React (like)",
  follow: "Follow",
  profile: "Edit profile",
  dm: "Direct messages",
} as const;

interface Limit {
  readonly total?: number;
  readonly perHour?: number;
}

export interface StartOptions {
  /** Adds the tip scope with this budget, in tokens (a funded START). */
  readonly tipBudget?: string;
  /** Caps to type into the consent screen, by scope. */
  readonly limits?: Readonly<Partial<Record<keyof typeof SCOPE_LABELS, Limit>>>;
  readonly screenshots?: { consent: string; wallet: string };
}

/** Connects the dev wallet, sets the consent screen's choices, reads the text, approves once. */
export async function connectAndStart(
  page: Page,
  base: string,
  options: StartOptions = {},
): Promise<{
  consent: string;
  signed: Awaited<ReturnType<typeof approveNextPrompt>>;
  /** The grant id the consent screen showed beside the text (funded sessions), or null. */
  grantIdShown: string | null;
}> {
  await page.goto(base);
  await page.getByRole("button", { name: /Sesame Dev Wallet/ }).click();
  const consentBox = page.getByTestId("consent-text");
  await consentBox.filter({ hasText: "wants you to start a Sesame session" }).waitFor();
  for (const [scope, l] of Object.entries(options.limits ?? {}) as [
    keyof typeof SCOPE_LABELS,
    Limit,
  ][]) {
    const label = SCOPE_LABELS[scope];
    if (l.total !== undefined) {
      await page.getByLabel(`${label}: at most in total`, { exact: true }).fill(String(l.total));
      await consentBox.filter({ hasText: `- ${scope}: at most ${l.total} in total` }).waitFor();
    }
    if (l.perHour !== undefined) {
      await page.getByLabel(`${label}: at most per hour`, { exact: true }).fill(String(l.perHour));
      await consentBox
        .filter({ hasText: new RegExp(`- ${scope}: [^\\n]*at most ${l.perHour} per hour`) })
        .waitFor();
    }
  }
  if (options.tipBudget !== undefined) {
    await page.getByRole("checkbox", { name: "Tip", exact: true }).check();
    await page.getByLabel("Tip budget (tokens)").fill(options.tipBudget);
    await consentBox.filter({ hasText: `Tip Budget: ${options.tipBudget} of token` }).waitFor();
    await page
      .getByTestId("funding-note")
      .filter({ hasText: `moves ${options.tipBudget} tokens into this device's session account` })
      .waitFor();
  }
  const consent = (await consentBox.textContent()) ?? "";
  const idLine = page.getByTestId("grant-id");
  const grantIdShown =
    (await idLine.count()) > 0 ? ((await idLine.locator(".mono").textContent()) ?? "") : null;
  if (options.screenshots !== undefined) await shot(page, options.screenshots.consent);
  await page.getByRole("button", { name: /Sign once with your wallet/ }).click();
  const signed = await approveNextPrompt(page, options.screenshots?.wallet);
  await page.getByLabel("What's happening?").waitFor();
  return { consent, signed, grantIdShown };
}

/** Posts from the composer and waits until the post is in the feed. */
export async function post(page: Page, text: string): Promise<void> {
  await page.getByLabel("What's happening?").fill(text);
  await page.getByRole("button", { name: "Post", exact: true }).click();
  await page.getByTestId("post").filter({ hasText: text }).first().waitFor();
}
