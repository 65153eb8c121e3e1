/**
 * verifyTipOnChain against real transactions on the embedded chain: each refusal is a
 * transaction that really happened, which the tip action misdescribes.
 */
import {
  ErrorCode,
  type SessionPublicKey,
  type TipBody,
  type WalletAddress,
} from "@sesame/protocol";
import {
  type Address,
  appendTransactionMessageInstructions,
  compileTransaction,
  createNoopSigner,
  createTransactionMessage,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from "@solana/kit";
import { getAddMemoInstruction } from "@solana-program/memo";
import { getTransferCheckedInstruction } from "@solana-program/token";
import { describe, expect, it } from "vitest";
import {
  buildTip,
  encodeWire,
  mainTokenAccountAddress,
  sendTip,
  sessionTokenAccountAddress,
  signTransaction,
  startSession,
  verifyTipOnChain,
} from "../src/index.js";
import { fundedGrant, person, postId, setup } from "./helpers.js";

async function scene() {
  const { chain, wallet, mint } = await setup();
  const session = await person();
  const author = await person();
  const { grant, text } = fundedGrant({
    wallet: wallet.address,
    session: session.address,
    mint,
    budget: 5_000_000n,
  });
  await startSession(chain, { grantText: text, deviceId: "d", walletSigner: wallet.signer });
  const post = postId();
  const authorWallet = author.address as string as WalletAddress;
  const signature = await sendTip(chain, {
    grant,
    deviceId: "d",
    sessionSigner: session.signer,
    author: authorWallet,
    amount: 1_250_000n,
    post,
  });
  const tip: TipBody = {
    post,
    to: authorWallet,
    mint: grant.tipBudget?.mint as TipBody["mint"],
    amount: "1250000",
    transaction: signature as string as TipBody["transaction"],
  };
  return { chain, wallet, mint, session, author, authorWallet, grant, post, tip };
}

function refusal(result: Awaited<ReturnType<typeof verifyTipOnChain>>) {
  if (result.ok) throw new Error("expected a refusal");
  return result.error;
}

describe("verifyTipOnChain", () => {
  it("accepts a tip whose transaction matches, and returns its signature for reuse checks", async () => {
    const { chain, grant, tip, authorWallet, mint, author } = await scene();
    const result = await verifyTipOnChain(chain, { tip, grant, author: authorWallet });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.signature).toBe(tip.transaction);
    expect(result.value.amount).toBe(1_250_000n);
    expect(result.value.destination).toBe(await mainTokenAccountAddress(author.address, mint));
    expect(result.value.source).toBe(
      (await sessionTokenAccountAddress(grant.wallet as string as Address, mint, "d")).address,
    );
  });

  it("refuses a transaction that is not on chain (7001)", async () => {
    const { chain, grant, tip, authorWallet } = await scene();
    const e = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, transaction: "1".repeat(64) as TipBody["transaction"] },
        grant,
        author: authorWallet,
      }),
    );
    expect(e.code).toBe(ErrorCode.TIP_NOT_ON_CHAIN);
  });

  it("refuses a wrong amount", async () => {
    const { chain, grant, tip, authorWallet } = await scene();
    const e = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, amount: "1250001" },
        grant,
        author: authorWallet,
      }),
    );
    expect(e.context).toMatchObject({ field: "amount", expected: "1250000", actual: "1250001" });
  });

  it("refuses a wrong memo (the transaction names another post)", async () => {
    const { chain, grant, tip, authorWallet } = await scene();
    const e = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, post: postId() },
        grant,
        author: authorWallet,
      }),
    );
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(e.context).toMatchObject({ field: "memo", expected: `sesame-tip:${tip.post}` });
  });

  it("refuses a wrong author: the tip names someone else, or the transaction paid someone else", async () => {
    const { chain, grant, tip, authorWallet } = await scene();
    const other = (await person()).address as string as WalletAddress;
    const named = refusal(
      await verifyTipOnChain(chain, { tip: { ...tip, to: other }, grant, author: authorWallet }),
    );
    expect(named.context).toMatchObject({ field: "author", expected: authorWallet, actual: other });
    const paid = refusal(
      await verifyTipOnChain(chain, { tip: { ...tip, to: other }, grant, author: other }),
    );
    expect(paid.context).toMatchObject({ field: "author", expected: authorWallet, actual: other });
  });

  it("refuses a wrong mint: not the grant's, or not the transaction's", async () => {
    const { chain, grant, tip, authorWallet, session, author } = await scene();
    const otherMint = await chain.createMint(6);
    const notBudget = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, mint: otherMint as string as TipBody["mint"] },
        grant,
        author: authorWallet,
      }),
    );
    expect(notBudget.context).toMatchObject({ field: "mint", actual: otherMint });
    // The session key pays the author in another mint it holds itself, naming the post.
    const { tokenAccount } = await chain.mintTo(session.address, 1_250_000n, otherMint);
    const authorOther = await chain.mintTo(author.address, 1n, otherMint);
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayer(session.address, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(chain.currentLifetime(), m),
      (m) =>
        appendTransactionMessageInstructions(
          [
            getTransferCheckedInstruction({
              source: tokenAccount,
              mint: otherMint,
              destination: authorOther.tokenAccount,
              authority: createNoopSigner(session.address),
              amount: 1_250_000n,
              decimals: 6,
            }),
            getAddMemoInstruction(
              { memo: `sesame-tip:${tip.post}` },
              { programAddress: chain.memoProgram },
            ),
          ],
          m,
        ),
    );
    const signature = await chain.sendTransaction(
      encodeWire(await signTransaction(compileTransaction(message), [session.signer])),
    );
    const wrongMint = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, transaction: signature as string as TipBody["transaction"] },
        grant,
        author: authorWallet,
      }),
    );
    expect(wrongMint.context).toMatchObject({
      field: "mint",
      expected: otherMint,
      actual: tip.mint,
    });
  });

  it("refuses a wrong signer: another session's key, or the wallet itself", async () => {
    const { chain, grant, tip, authorWallet, wallet, mint } = await scene();
    // A second device's session tips the same post: a real tip, but not by this grant's key.
    const key2 = await person();
    const second = fundedGrant({
      wallet: wallet.address,
      session: key2.address,
      mint,
      budget: 2_000_000n,
    });
    await startSession(chain, {
      grantText: second.text,
      deviceId: "d2",
      walletSigner: wallet.signer,
    });
    const signature = await sendTip(chain, {
      grant: second.grant,
      deviceId: "d2",
      sessionSigner: key2.signer,
      author: authorWallet,
      amount: 1_250_000n,
      post: tip.post,
    });
    const e = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, transaction: signature as string as TipBody["transaction"] },
        grant,
        author: authorWallet,
      }),
    );
    expect(e.context).toMatchObject({
      field: "signer",
      expected: key2.address,
      actual: grant.sessionKey,
    });
    // The wallet tips from its own main account, with the right memo: not the session key.
    const built = await buildTip({
      sessionKey: wallet.address as string as SessionPublicKey,
      sessionTokenAccount: await mainTokenAccountAddress(wallet.address, mint),
      mint: tip.mint,
      decimals: 6,
      author: authorWallet,
      amount: 1_250_000n,
      post: tip.post,
      createAuthorAccount: false,
      lifetime: chain.currentLifetime(),
    });
    const byWallet = await chain.sendTransaction(
      encodeWire(await signTransaction(built.transaction, [wallet.signer])),
    );
    const w = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, transaction: byWallet as string as TipBody["transaction"] },
        grant,
        author: authorWallet,
      }),
    );
    expect(w.context).toMatchObject({ field: "signer", expected: wallet.address });
  });

  it("refuses a tip paid from the session key's own account, not the granter's (source)", async () => {
    const { chain, grant, tip, authorWallet, session } = await scene();
    // The session key holds tokens of the mint itself and pays the author from them, as
    // owner, with the right memo: a real transfer by the right signer, but not the wallet's
    // money under the grant's allowance.
    const own = await chain.mintTo(session.address, 3_000_000n);
    const built = await buildTip({
      sessionKey: session.address as string as SessionPublicKey,
      sessionTokenAccount: own.tokenAccount,
      mint: tip.mint,
      decimals: 6,
      author: authorWallet,
      amount: 1_250_000n,
      post: tip.post,
      createAuthorAccount: false,
      lifetime: chain.currentLifetime(),
    });
    const signature = await chain.sendTransaction(
      encodeWire(await signTransaction(built.transaction, [session.signer])),
    );
    const e = refusal(
      await verifyTipOnChain(chain, {
        tip: { ...tip, transaction: signature as string as TipBody["transaction"] },
        grant,
        author: authorWallet,
      }),
    );
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    // As for every field: `expected` is what the transaction shows, `actual` what the
    // tip's grant says it should be.
    expect(e.context).toMatchObject({
      field: "source",
      expected: `an account of ${session.address}`,
      actual: grant.wallet,
    });
  });

  it("refuses a transaction that landed but failed (status), naming the chain's error", async () => {
    const { chain, grant, tip, authorWallet, session, mint } = await scene();
    // Over the allowance, sent without preflight: it lands, fails, and pays its fee.
    const built = await buildTip({
      sessionKey: grant.sessionKey,
      sessionTokenAccount: (
        await sessionTokenAccountAddress(grant.wallet as string as Address, mint, "d")
      ).address,
      mint: tip.mint,
      decimals: 6,
      author: authorWallet,
      amount: 4_000_000n,
      post: tip.post,
      createAuthorAccount: false,
      lifetime: chain.currentLifetime(),
    });
    const before = await chain.getBalance(session.address);
    const signature = await chain.sendTransaction(
      encodeWire(await signTransaction(built.transaction, [session.signer])),
      { skipPreflight: true },
    );
    expect(before - (await chain.getBalance(session.address))).toBe(5000n);
    await expect(chain.confirmTransaction(signature)).rejects.toMatchObject({
      context: { program: "token", name: "InsufficientFunds" },
    });
    const e = refusal(
      await verifyTipOnChain(chain, {
        tip: {
          ...tip,
          amount: "4000000",
          transaction: signature as string as TipBody["transaction"],
        },
        grant,
        author: authorWallet,
      }),
    );
    expect(e.context).toMatchObject({
      field: "status",
      expected: "failed: InsufficientFunds",
      actual: "success",
    });
  });

  it("refuses a tip whose grant has no budget", async () => {
    const { chain, grant, tip, authorWallet } = await scene();
    const e = refusal(
      await verifyTipOnChain(chain, {
        tip,
        grant: { ...grant, tipBudget: null },
        author: authorWallet,
      }),
    );
    expect(e.context).toMatchObject({ field: "mint" });
  });
});
