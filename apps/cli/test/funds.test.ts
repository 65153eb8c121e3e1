/**
 * `sesame funds`: a device with a funded session is gone (its session key with it); the
 * wallet lists its session token accounts and RECOVERs them from a terminal with one
 * signature. The built `sesame` bin as a subprocess, against a real node with the
 * embedded chain.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  chainFunding,
  chainRpcUrl,
  MemorySessionStore,
  NodeApi,
  parseTokenAmount,
  SessionManager,
} from "@sesame/client";
import { keypairWallet } from "@sesame/client/node";
import type { MintAddress } from "@sesame/protocol";
import {
  decodeTokenAccount,
  mainTokenAccountAddress,
  rpcChain,
  sessionTokenAccountAddress,
} from "@sesame/solana/client";
import { address } from "@solana/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  app,
  newWalletFile,
  policy,
  ROOT,
  startTestNode,
  type TestNode,
} from "../../../packages/client/test/helpers.js";

const BIN = join(ROOT, "apps/cli/bin/sesame.js");

function sesame(args: readonly string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ engine: "pglite", chain: "embedded" });
});
afterAll(async () => node.close());

describe("sesame funds", () => {
  it("recover: a lost device's session account comes back to the wallet with one signature", async () => {
    const api = new NodeApi(node.url);
    const info = await api.chainInfo();
    const mint = info.tipMint?.address as MintAddress;
    const chain = rpcChain(chainRpcUrl(api, info) ?? "", { pollMs: 20 });
    const wallet = newWalletFile();
    await api.faucet(wallet.address);
    const ata = await mainTokenAccountAddress(address(wallet.address), address(mint));
    const mainBefore = decodeTokenAccount(await chain.getAccount(ata))?.amount ?? 0n;

    // A device starts a funded session, then is lost with its key (nothing ENDs it).
    const manager = new SessionManager({
      store: new MemorySessionStore(),
      api,
      walletAddress: wallet.address,
      wallet: keypairWallet(wallet.path),
      app: app("lost phone"),
      funding: chainFunding(chain, {
        deviceId: "lost-phone",
        memoProgram: address(info.memoProgram ?? ""),
      }),
    });
    await manager.confirm(
      await manager.prepare({
        ...policy(["tip"]),
        tipBudget: { mint, amount: parseTokenAmount("7", 6).toString(), decimals: 6 },
      }),
    );
    const { address: account } = await sessionTokenAccountAddress(
      address(wallet.address),
      address(mint),
      "lost-phone",
    );

    const dir = mkdtempSync(join(tmpdir(), "sesame-cli-funds-"));
    const env = {
      SESAME_NODE: node.url,
      SESAME_KEYPAIR: wallet.path,
      SESAME_WALLET_SIGNATURE_LOG: join(dir, "prompts.log"),
    };
    const listed = await sesame(["funds", "accounts", "--json"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      wallet: wallet.address,
      mint,
      accounts: [{ address: account, balance: "7000000", delegatedAmount: "7000000" }],
    });

    const recovered = await sesame(["funds", "recover", "--json"], env);
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(JSON.parse(recovered.stdout)).toMatchObject({
      recovered: [{ account, recovered: "7000000" }],
    });
    // One wallet signature (the CLI's prompt log), and everything is the wallet's again.
    expect(readFileSync(join(dir, "prompts.log"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(decodeTokenAccount(await chain.getAccount(ata))?.amount).toBe(mainBefore);
    expect(decodeTokenAccount(await chain.getAccount(account))).toMatchObject({
      amount: 0n,
      delegate: null,
    });

    // Nothing left: a second run recovers nothing and asks for no signature.
    const again = await sesame(["funds", "recover", "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ recovered: [] });
    expect(readFileSync(join(dir, "prompts.log"), "utf8").trim().split("\n")).toHaveLength(1);
  });
});
