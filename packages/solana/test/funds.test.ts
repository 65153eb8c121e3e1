/**
 * The funds tier on the embedded chain (LiteSVM with the real System, SPL-Token,
 * Associated-Token and Memo programs): what the chain enforces for a session key.
 */
import { ErrorCode, isProtocolError, mintAddress, verifyGrant } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  type Address,
  appendTransactionMessageInstructions,
  compileTransaction,
  createNoopSigner,
  createTransactionMessage,
  type Instruction,
  type KeyPairSigner,
  partiallySignTransactionWithSigners,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from "@solana/kit";
import { getTransferSolInstruction } from "@solana-program/system";
import { getTransferCheckedInstruction } from "@solana-program/token";
import { describe, expect, it } from "vitest";
import {
  buildTip,
  type ChainError,
  DEFAULT_FEE_TOP_UP,
  decodeTokenAccount,
  type EmbeddedChain,
  encodeWire,
  endSession,
  findSessionTokenAccounts,
  mainTokenAccountAddress,
  prepareStartSession,
  recoverSessionAccount,
  sendTip,
  sessionTokenAccountAddress,
  signTransaction,
  startSession,
  submitTransaction,
  TOKEN_ACCOUNT_SIZE,
  TRANSACTION_SIZE_LIMIT,
} from "../src/index.js";
import { fundedGrant, person, postId, setup, tokenBalance, VERIFY_CONTEXT } from "./helpers.js";

const BUDGET = 5_000_000n; // 5 demo tokens (6 decimals)

async function chainError(promise: Promise<unknown>): Promise<ChainError> {
  const e = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!isProtocolError(e, ErrorCode.CHAIN_ERROR))
    throw new Error(`expected a CHAIN_ERROR, got ${String(e)}`);
  return e;
}

/** Sends instructions signed by the given signers only (fee payer first). */
async function sendAs(
  chain: EmbeddedChain,
  feePayer: Address,
  signers: readonly KeyPairSigner[],
  instructions: readonly Instruction[],
) {
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayer(feePayer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(chain.currentLifetime(), m),
    (m) => appendTransactionMessageInstructions(instructions, m),
  );
  const signed = await partiallySignTransactionWithSigners(signers, compileTransaction(message));
  return chain.sendTransaction(encodeWire(signed));
}

async function started(device = "device-1", budget = BUDGET) {
  const ctx = await setup();
  const session = await person();
  const author = await person();
  const { grant, text } = fundedGrant({
    wallet: ctx.wallet.address,
    session: session.address,
    mint: ctx.mint,
    budget,
  });
  const walletBefore = await ctx.chain.getBalance(ctx.wallet.address);
  const start = await startSession(ctx.chain, {
    grantText: text,
    deviceId: device,
    walletSigner: ctx.wallet.signer,
  });
  return { ...ctx, session, author, grant, text, start, walletBefore };
}

describe("START: one wallet signature", () => {
  it("creates the device's session account, moves the budget, approves the key, tops it up", async () => {
    const { chain, wallet, session, start, mainAccount, mint, walletBefore } = await started();
    const account = decodeTokenAccount(await chain.getAccount(start.sessionTokenAccount));
    expect(account).toMatchObject({
      mint,
      owner: wallet.address,
      amount: BUDGET,
      delegate: session.address,
      delegatedAmount: BUDGET,
      closeAuthority: null,
    });
    expect(start.sessionTokenAccount).toBe(
      (await sessionTokenAccountAddress(wallet.address, mint, "device-1")).address,
    );
    expect(await tokenBalance(chain, mainAccount)).toBe(100_000_000n - BUDGET);
    expect(await chain.getBalance(session.address)).toBe(DEFAULT_FEE_TOP_UP);
    const rent = await chain.getMinimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE);
    // The wallet paid: the top-up, the session account's rent (once per device), one fee.
    expect(walletBefore - (await chain.getBalance(wallet.address))).toBe(
      DEFAULT_FEE_TOP_UP + rent + 5000n,
    );
    expect(start.createdAccount).toBe(true);
    expect(start.size).toBeLessThanOrEqual(TRANSACTION_SIZE_LIMIT);
  });

  it("its wire transaction is the grant's signature: verifyGrant accepts it", async () => {
    const { text, start } = await started();
    const verified = await verifyGrant(
      { text, transaction: start.transaction },
      VERIFY_CONTEXT,
      nodeEd25519(),
    );
    expect(verified.form).toBe("transaction");
    expect(verified.signature).toBe(start.signature);
  });

  it("carries the full grant text when it fits, else sesame-grant:<id>, within 1,232 bytes", async () => {
    const { chain, wallet, mint } = await setup();
    const sizes: Record<string, number> = {};
    for (const [label, scopes, device] of [
      ["short, new account", ["tip"], "d1"],
      ["short, reused account", ["tip"], "d1"],
      ["full, new account", undefined, "d2"],
    ] as const) {
      const session = await person();
      const { text } = fundedGrant({
        wallet: wallet.address,
        session: session.address,
        mint,
        budget: 1_000_000n,
        ...(scopes === undefined ? {} : { scopes }),
      });
      const s = await startSession(chain, {
        grantText: text,
        deviceId: device,
        walletSigner: wallet.signer,
      });
      const v = await verifyGrant(
        { text, transaction: s.transaction },
        VERIFY_CONTEXT,
        nodeEd25519(),
      );
      expect(v.form).toBe("transaction");
      expect(s.size).toBeLessThanOrEqual(TRANSACTION_SIZE_LIMIT);
      sizes[`${label} (${new TextEncoder().encode(text).length}-byte grant, memo ${s.memo})`] =
        s.size;
      if (label === "short, reused account") expect(s.memo).toBe("text");
      if (label === "full, new account") expect(s.memo).toBe("id");
    }
    console.log("START sizes, bytes:", sizes);
  });

  it("a second session on the same device reuses the token account: no new rent", async () => {
    const { chain, wallet, mint, start } = await started();
    const second = await person();
    const { text } = fundedGrant({
      wallet: wallet.address,
      session: second.address,
      mint,
      budget: BUDGET,
    });
    const before = await chain.getBalance(wallet.address);
    const again = await startSession(chain, {
      grantText: text,
      deviceId: "device-1",
      walletSigner: wallet.signer,
    });
    expect(again.sessionTokenAccount).toBe(start.sessionTokenAccount);
    expect(again.createdAccount).toBe(false);
    expect(before - (await chain.getBalance(wallet.address))).toBe(DEFAULT_FEE_TOP_UP + 5000n);
    const account = decodeTokenAccount(await chain.getAccount(start.sessionTokenAccount));
    expect(account?.delegate).toBe(second.address);
  });

  it("lamports sent to the session account's address beforehand do not block its creation", async () => {
    const { chain, wallet, mint } = await setup();
    const session = await person();
    const { address } = await sessionTokenAccountAddress(wallet.address, mint, "griefed");
    await chain.airdrop(address, 1_000_000n); // anyone can do this
    const { text } = fundedGrant({
      wallet: wallet.address,
      session: session.address,
      mint,
      budget: BUDGET,
    });
    const built = await prepareStartSession(chain, { grantText: text, deviceId: "griefed" });
    expect(built.createsAccount).toBe(true);
    await submitTransaction(
      chain,
      await signTransaction(built.transaction, [wallet.signer]),
      built,
    );
    expect(decodeTokenAccount(await chain.getAccount(address))?.amount).toBe(BUDGET);
    expect(await chain.getBalance(address)).toBe(
      await chain.getMinimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE),
    );
  });
});

describe("TIP: the session key as delegate", () => {
  it("a tip within the allowance succeeds", async () => {
    const { chain, grant, session, author, mint, start } = await started();
    await sendTip(chain, {
      grant,
      deviceId: "device-1",
      sessionSigner: session.signer,
      author: author.wallet,
      amount: 1_500_000n,
      post: postId(),
    });
    const authorAccount = await mainTokenAccountAddress(author.address, mint);
    expect(await tokenBalance(chain, authorAccount)).toBe(1_500_000n);
    const account = decodeTokenAccount(await chain.getAccount(start.sessionTokenAccount));
    expect(account?.delegatedAmount).toBe(BUDGET - 1_500_000n);
  });

  it("a tip over the allowance is refused by the token program (decoded name)", async () => {
    const { chain, grant, session, author } = await started();
    const tip = (amount: bigint) =>
      sendTip(chain, {
        grant,
        deviceId: "device-1",
        sessionSigner: session.signer,
        author: author.wallet,
        amount,
        post: postId(),
      });
    await tip(4_000_000n);
    const e = await chainError(tip(1_000_001n));
    expect(e.code).toBe(ErrorCode.CHAIN_ERROR);
    expect(e.context).toMatchObject({ program: "token", name: "InsufficientFunds" });
    expect(e.message).toMatch(/token.*InsufficientFunds: Insufficient funds/);
  });

  it("the same transaction twice is refused", async () => {
    const { chain, session, wallet } = await started();
    const ix = getTransferSolInstruction({
      source: createNoopSigner(session.address),
      destination: wallet.address,
      amount: 1000n,
    });
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayer(session.address, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(chain.currentLifetime(), m),
      (m) => appendTransactionMessageInstructions([ix], m),
    );
    const wire = encodeWire(await signTransaction(compileTransaction(message), [session.signer]));
    await chain.sendTransaction(wire);
    const e = await chainError(chain.sendTransaction(wire));
    expect(e.context).toMatchObject({ program: "runtime", name: "AlreadyProcessed" });
  });

  it("a transaction whose blockhash is older than 150 slots is refused", async () => {
    const { chain, grant, session, author, start, mint } = await started();
    const lifetime = chain.currentLifetime();
    chain.warp({ slots: 151, ms: 60_000 });
    const built = await buildTip({
      sessionKey: grant.sessionKey,
      sessionTokenAccount: start.sessionTokenAccount,
      mint: grant.tipBudget?.mint ?? mintAddress(mint),
      decimals: 6,
      author: author.wallet,
      amount: 1n,
      post: postId(),
      createAuthorAccount: true,
      lifetime,
    });
    const e = await chainError(
      chain.sendTransaction(encodeWire(await signTransaction(built.transaction, [session.signer]))),
    );
    expect(e.context.name).toBe("BlockhashNotFound");
  });
});

describe("what a session key cannot do", () => {
  it("cannot move the wallet's SOL (the wallet's signature is required)", async () => {
    const { chain, session, wallet } = await started();
    const e = await chainError(
      sendAs(
        chain,
        session.address,
        [session.signer],
        [
          getTransferSolInstruction({
            source: createNoopSigner(wallet.address),
            destination: session.address,
            amount: 1_000_000n,
          }),
        ],
      ),
    );
    expect(e.context.name).toBe("SignatureFailure");
  });

  it("cannot move tokens from the wallet's main token account", async () => {
    const { chain, session, mint, mainAccount } = await started();
    const e = await chainError(
      sendAs(
        chain,
        session.address,
        [session.signer],
        [
          getTransferCheckedInstruction({
            source: mainAccount,
            mint,
            destination: mainAccount,
            authority: session.signer,
            amount: 1n,
            decimals: 6,
          }),
        ],
      ),
    );
    expect(e.context).toMatchObject({ program: "token", name: "OwnerMismatch" });
  });

  it("cannot move other mints, from the wallet's account or through its session account", async () => {
    const { chain, session, wallet, start } = await started();
    const other = await chain.createMint(6);
    const { tokenAccount } = await chain.mintTo(wallet.address, 50_000_000n, other);
    const fromWallet = await chainError(
      sendAs(
        chain,
        session.address,
        [session.signer],
        [
          getTransferCheckedInstruction({
            source: tokenAccount,
            mint: other,
            destination: tokenAccount,
            authority: session.signer,
            amount: 1n,
            decimals: 6,
          }),
        ],
      ),
    );
    expect(fromWallet.context).toMatchObject({ program: "token", name: "OwnerMismatch" });
    const throughSession = await chainError(
      sendAs(
        chain,
        session.address,
        [session.signer],
        [
          getTransferCheckedInstruction({
            source: start.sessionTokenAccount,
            mint: other,
            destination: tokenAccount,
            authority: session.signer,
            amount: 1n,
            decimals: 6,
          }),
        ],
      ),
    );
    expect(throughSession.context).toMatchObject({ program: "token", name: "MintMismatch" });
  });

  it("cannot spend more SOL than its top-up", async () => {
    const { chain, session } = await started();
    const stranger = await person();
    const e = await chainError(
      sendAs(
        chain,
        session.address,
        [session.signer],
        [
          getTransferSolInstruction({
            source: session.signer,
            destination: stranger.address,
            amount: DEFAULT_FEE_TOP_UP,
          }),
        ],
      ),
    );
    expect(e.context).toMatchObject({ program: "system", name: "ResultWithNegativeLamports" });
    expect(await chain.getBalance(session.address)).toBe(DEFAULT_FEE_TOP_UP);
  });
});

describe("END: no wallet prompt", () => {
  it("returns the leftover allowance and all lamports but the fees; the key then owns and moves nothing", async () => {
    const { chain, grant, session, author, wallet, mainAccount, start } = await started();
    await sendTip(chain, {
      grant,
      deviceId: "device-1",
      sessionSigner: session.signer,
      author: author.wallet,
      amount: 2_000_000n,
      post: postId(),
    });
    const keyBefore = await chain.getBalance(session.address);
    const walletBefore = await chain.getBalance(wallet.address);
    const ended = await endSession(chain, {
      grant,
      deviceId: "device-1",
      sessionSigner: session.signer,
    });
    expect(ended).not.toBeNull();
    expect(ended?.returnedTokens).toBe(BUDGET - 2_000_000n);
    expect(ended?.returnedLamports).toBe(keyBefore - 5000n);
    // Exactly 0: the key's account is gone.
    expect(await chain.getBalance(session.address)).toBe(0n);
    expect(await chain.getAccount(session.address)).toBeNull();
    expect((await chain.getBalance(wallet.address)) - walletBefore).toBe(keyBefore - 5000n);
    // The wallet holds the leftover; the delegation is cleared.
    expect(await tokenBalance(chain, mainAccount)).toBe(100_000_000n - 2_000_000n);
    const account = decodeTokenAccount(await chain.getAccount(start.sessionTokenAccount));
    expect(account).toMatchObject({ amount: 0n, delegate: null, delegatedAmount: 0n });
    // Nothing left to move: a further tip cannot even pay its fee.
    const e = await chainError(
      sendTip(chain, {
        grant,
        deviceId: "device-1",
        sessionSigner: session.signer,
        author: author.wallet,
        amount: 1n,
        post: postId(),
      }),
    );
    expect(e.code).toBe(ErrorCode.CHAIN_ERROR);
    expect(
      await endSession(chain, { grant, deviceId: "device-1", sessionSigner: session.signer }),
    ).toBeNull();
    // Even with lamports sent to it again, the key moves no token: it is no one's delegate.
    await chain.airdrop(session.address, 1_000_000_000n);
    const moved = await chainError(
      sendTip(chain, {
        grant,
        deviceId: "device-1",
        sessionSigner: session.signer,
        author: author.wallet,
        amount: 1n,
        post: postId(),
      }),
    );
    expect(moved.context).toMatchObject({ program: "token" });
    expect(await tokenBalance(chain, mainAccount)).toBe(100_000_000n - 2_000_000n);
  });

  it("with a priority fee (compute-budget instructions) it still sweeps the key to exactly 0", async () => {
    const { chain, grant, session, wallet } = await started();
    const priority = { computeUnitLimit: 20_000, computeUnitPrice: 1_000_000n };
    const walletBefore = await chain.getBalance(wallet.address);
    const ended = await endSession(chain, {
      grant,
      deviceId: "device-1",
      sessionSigner: session.signer,
      priority,
    });
    // 5,000 per signature + 20,000 units at 1 lamport each.
    expect(ended?.fee).toBe(25_000n);
    expect(await chain.getBalance(session.address)).toBe(0n);
    expect((await chain.getBalance(wallet.address)) - walletBefore).toBe(
      DEFAULT_FEE_TOP_UP - 25_000n,
    );
  });

  it("two funded sessions on two devices coexist and end independently", async () => {
    const { chain, wallet, mint, mainAccount } = await setup();
    const author = await person();
    const sessions = [];
    for (const device of ["laptop", "phone"]) {
      const key = await person();
      const { grant, text } = fundedGrant({
        wallet: wallet.address,
        session: key.address,
        mint,
        budget: BUDGET,
        device,
      });
      const s = await startSession(chain, {
        grantText: text,
        deviceId: device,
        walletSigner: wallet.signer,
      });
      sessions.push({ key, grant, device, account: s.sessionTokenAccount });
    }
    expect(sessions[0]?.account).not.toBe(sessions[1]?.account);
    for (const s of sessions) {
      await sendTip(chain, {
        grant: s.grant,
        deviceId: s.device,
        sessionSigner: s.key.signer,
        author: author.wallet,
        amount: 1_000_000n,
        post: postId(),
      });
      const account = decodeTokenAccount(await chain.getAccount(s.account));
      expect(account).toMatchObject({
        delegate: s.key.address,
        delegatedAmount: BUDGET - 1_000_000n,
      });
    }
    const found = await findSessionTokenAccounts(chain, wallet.wallet, mint);
    expect(found.map((f) => f.address).sort()).toEqual(sessions.map((s) => s.account).sort());
    const first = sessions[0];
    if (first === undefined) throw new Error("no session");
    await endSession(chain, {
      grant: first.grant,
      deviceId: first.device,
      sessionSigner: first.key.signer,
    });
    // The other device's session is untouched.
    const other = decodeTokenAccount(await chain.getAccount(sessions[1]?.account as Address));
    expect(other?.delegatedAmount).toBe(BUDGET - 1_000_000n);
    expect(await tokenBalance(chain, mainAccount)).toBe(
      100_000_000n - 2n * BUDGET + (BUDGET - 1_000_000n),
    );
  });
});

describe("RECOVER: one wallet signature when the session key is gone", () => {
  it("returns the balance and revokes the delegate", async () => {
    const { chain, wallet, mainAccount, start, session } = await started();
    // The device (and its session key) are lost: only the wallet acts.
    const result = await recoverSessionAccount(chain, {
      wallet: wallet.wallet,
      sessionTokenAccount: start.sessionTokenAccount,
      walletSigner: wallet.signer,
    });
    expect(result.recovered).toBe(BUDGET);
    expect(await tokenBalance(chain, mainAccount)).toBe(100_000_000n);
    const account = decodeTokenAccount(await chain.getAccount(start.sessionTokenAccount));
    expect(account).toMatchObject({ amount: 0n, delegate: null });
    // What the lost key still holds is its top-up, at most.
    expect(await chain.getBalance(session.address)).toBe(DEFAULT_FEE_TOP_UP);
  });

  it("can close the account too, returning its rent; a later session recreates it", async () => {
    const { chain, wallet, mint, mainAccount, start } = await started();
    const rent = await chain.getMinimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE);
    const before = await chain.getBalance(wallet.address);
    await recoverSessionAccount(chain, {
      wallet: wallet.wallet,
      sessionTokenAccount: start.sessionTokenAccount,
      close: true,
      walletSigner: wallet.signer,
    });
    expect(await chain.getAccount(start.sessionTokenAccount)).toBeNull();
    expect((await chain.getBalance(wallet.address)) - before).toBe(rent - 5000n);
    expect(await tokenBalance(chain, mainAccount)).toBe(100_000_000n);
    const key = await person();
    const { text } = fundedGrant({
      wallet: wallet.address,
      session: key.address,
      mint,
      budget: BUDGET,
    });
    const again = await startSession(chain, {
      grantText: text,
      deviceId: "device-1",
      walletSigner: wallet.signer,
    });
    expect(again.createdAccount).toBe(true);
    expect(again.sessionTokenAccount).toBe(start.sessionTokenAccount);
  });
});
