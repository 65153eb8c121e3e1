/**
 * The embedded chain on a data directory: every accepted transaction is journaled (and
 * fdatasync'ed) before it is reported, and a chain opened again on the directory is the
 * same chain — genesis, faucet, demo mint, accounts, history, recent blockhashes.
 */
import { appendFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode, isProtocolError } from "@sesame/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { JOURNAL_FILE } from "../src/embedded/journal.js";
import {
  decodeTokenAccount,
  EmbeddedChain,
  encodeWire,
  endSession,
  mainTokenAccountAddress,
  prepareTip,
  sendTip,
  signTransaction,
  startSession,
  verifyTipOnChain,
} from "../src/index.js";
import { fundedGrant, person, postId, tokenBalance } from "./helpers.js";

const dirs: string[] = [];
const open: EmbeddedChain[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sesame-chain-"));
  dirs.push(dir);
  return join(dir, "chain");
}

async function openChain(dataDir: string, historyLimit?: number): Promise<EmbeddedChain> {
  const chain = await EmbeddedChain.create({
    dataDir,
    ...(historyLimit === undefined ? {} : { historyLimit }),
  });
  open.push(chain);
  return chain;
}

async function closeChain(chain: EmbeddedChain): Promise<void> {
  open.splice(open.indexOf(chain), 1);
  await chain.close();
}

describe("the embedded chain on a data directory", () => {
  it("reopens as the same chain: genesis, mint, balances, delegation, history; tips go on", async () => {
    const dir = await tempDir();
    const first = await openChain(dir);
    expect(first.durable).toBe(true);
    const wallet = await person();
    const session = await person();
    const author = await person();
    const { tokenAccount: main } = await first.fund(wallet.address, {
      lamports: 10_000_000_000n,
      tokens: 100_000_000n,
    });
    const { grant, text } = fundedGrant({
      wallet: wallet.address,
      session: session.address,
      mint: first.demoMint.address,
      budget: 5_000_000n,
    });
    const start = await startSession(first, {
      grantText: text,
      deviceId: "d1",
      walletSigner: wallet.signer,
    });
    const post = postId();
    const tip = await sendTip(first, {
      grant,
      deviceId: "d1",
      sessionSigner: session.signer,
      author: author.wallet,
      amount: 1_000_000n,
      post,
    });
    // Signed before the restart, sent after it: its blockhash must still be valid.
    const inFlight = await prepareTip(first, {
      grant,
      deviceId: "d1",
      author: author.wallet,
      amount: 500_000n,
      post: postId(),
    });
    const inFlightWire = encodeWire(await signTransaction(inFlight.transaction, [session.signer]));
    const before = {
      genesis: first.genesisHash,
      mint: first.demoMint,
      faucet: first.faucet.address,
      slot: first.slot,
      walletLamports: await first.getBalance(wallet.address),
      sessionLamports: await first.getBalance(session.address),
      main: await tokenBalance(first, main),
      sessionAccount: await first.getAccount(start.sessionTokenAccount),
      tip: await first.getTransaction(tip),
    };
    await closeChain(first);

    const second = await openChain(dir);
    expect(second.genesisHash).toBe(before.genesis);
    expect(second.demoMint).toEqual(before.mint);
    expect(second.faucet.address).toBe(before.faucet);
    expect(second.slot).toBeGreaterThanOrEqual(before.slot);
    expect(await second.getBalance(wallet.address)).toBe(before.walletLamports);
    expect(await second.getBalance(session.address)).toBe(before.sessionLamports);
    expect(await tokenBalance(second, main)).toBe(before.main);
    expect(await second.getAccount(start.sessionTokenAccount)).toEqual(before.sessionAccount);
    expect(await second.getTransaction(tip)).toEqual(before.tip);
    const authorAccount = await mainTokenAccountAddress(author.address, second.demoMint.address);
    expect(await tokenBalance(second, authorAccount)).toBe(1_000_000n);

    // The stored tip still verifies; the same transaction is still refused as a replay.
    const verified = await verifyTipOnChain(second, {
      tip: {
        post,
        to: author.wallet,
        mint: grant.tipBudget?.mint ?? ("" as never),
        amount: "1000000",
        transaction: tip as string as never,
      },
      grant,
      author: author.wallet,
    });
    expect(verified.ok).toBe(true);
    const replay = await second
      .sendTransaction(before.tip?.wire ?? new Uint8Array())
      .catch((e: unknown) => e);
    expect(isProtocolError(replay, ErrorCode.CHAIN_ERROR)).toBe(true);
    expect((replay as { context: { name: string } }).context.name).toBe("AlreadyProcessed");

    // A transaction signed before the restart lands after it; the session goes on and ends.
    await second.sendTransaction(inFlightWire);
    await sendTip(second, {
      grant,
      deviceId: "d1",
      sessionSigner: session.signer,
      author: author.wallet,
      amount: 1_000_000n,
      post: postId(),
    });
    expect(
      decodeTokenAccount(await second.getAccount(start.sessionTokenAccount))?.delegatedAmount,
    ).toBe(2_500_000n);
    await endSession(second, { grant, deviceId: "d1", sessionSigner: session.signer });
    expect(await second.getBalance(session.address)).toBe(0n);
    await closeChain(second);

    // ...and that too survives the next restart.
    const third = await openChain(dir);
    expect(await third.getBalance(session.address)).toBe(0n);
    expect(await tokenBalance(third, main)).toBe(100_000_000n - 5_000_000n + 2_500_000n);
    expect(await tokenBalance(third, authorAccount)).toBe(2_500_000n);
  });

  it("answers over JSON-RPC only once the transaction is on disk", async () => {
    const dir = await tempDir();
    const chain = await openChain(dir);
    const wallet = await person();
    const size = async () => (await stat(join(dir, JOURNAL_FILE))).size;
    const sizeBefore = await size();
    const answer = JSON.parse(
      await chain.handleRpc(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "requestAirdrop",
          params: [wallet.address, 1_000_000_000],
        }),
      ),
    ) as { result: string };
    // The answer came after the journal grew by the transaction's line.
    expect(await size()).toBeGreaterThan(sizeBefore);
    const lines = (await readFile(join(dir, JOURNAL_FILE), "utf8")).trim().split("\n");
    expect(JSON.parse(lines.at(-1) ?? "{}")).toMatchObject({ t: "tx", sig: answer.result });
  });

  it("a torn last line (a crash mid-write) is dropped; everything before it is kept", async () => {
    const dir = await tempDir();
    const first = await openChain(dir);
    const wallet = await person();
    await first.airdrop(wallet.address, 3_000_000_000n);
    const mint = first.demoMint;
    await closeChain(first);
    await appendFile(join(dir, JOURNAL_FILE), '{"t":"tx","sig":"torn');
    const second = await openChain(dir);
    expect(second.demoMint).toEqual(mint);
    expect(await second.getBalance(wallet.address)).toBe(3_000_000_000n);
    await second.airdrop(wallet.address, 1n);
    await closeChain(second);
    const third = await openChain(dir);
    expect(await third.getBalance(wallet.address)).toBe(3_000_000_001n);
  });

  it("a journal longer than the history kept is compacted on open: same state, bounded file", async () => {
    const dir = await tempDir();
    const first = await openChain(dir, 3);
    const wallets = await Promise.all([person(), person(), person()]);
    const signatures: string[] = [];
    for (const [i, w] of wallets.entries()) {
      signatures.push(await first.airdrop(w.address, BigInt(i + 1) * 1_000_000_000n));
      signatures.push((await first.mintTo(w.address, BigInt(i + 1) * 1_000_000n)).signature);
    }
    const mint = first.demoMint;
    const slot = first.slot;
    await closeChain(first);
    const lines = async () =>
      (await readFile(join(dir, JOURNAL_FILE), "utf8")).trim().split("\n").length;
    const before = await lines(); // genesis, mint creation, demoMint, 6 transactions
    expect(before).toBe(9);

    const second = await openChain(dir, 3);
    // genesis, demoMint, the 3 transactions kept, and the state.
    expect(await lines()).toBe(6);
    expect(second.demoMint).toEqual(mint);
    expect(second.slot).toBeGreaterThanOrEqual(slot);
    for (const [i, w] of wallets.entries()) {
      expect(await second.getBalance(w.address)).toBe(BigInt(i + 1) * 1_000_000_000n);
      const ata = await mainTokenAccountAddress(w.address, mint.address);
      expect(await tokenBalance(second, ata)).toBe(BigInt(i + 1) * 1_000_000n);
    }
    // The history kept answers; older transactions are gone, as past the in-memory limit.
    expect(await second.getTransaction(signatures[5] as never)).not.toBeNull();
    expect(await second.getTransaction(signatures[0] as never)).toBeNull();
    // It goes on: a new transaction, and the next reopen (compacting again) keeps it too.
    await second.airdrop(wallets[0]?.address as never, 5n);
    await closeChain(second);
    const third = await openChain(dir, 3);
    expect(await third.getBalance(wallets[0]?.address as never)).toBe(1_000_000_005n);
    expect(await third.getBalance(wallets[2]?.address as never)).toBe(3_000_000_000n);
  });
});
