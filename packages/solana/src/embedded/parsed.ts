/** The `jsonParsed` forms of SPL-Token accounts and mints, as Solana's RPC writes them. */
import { formatUnits } from "@sesame/protocol";
import { getMintDecoder } from "@solana-program/token";
import { decodeTokenAccount } from "../accounts.js";
import type { ChainAccount } from "../chain.js";
import { MINT_SIZE } from "../constants.js";

export function tokenAmountJson(amount: bigint, decimals: number) {
  const text = formatUnits(amount.toString(), decimals);
  return { amount: amount.toString(), decimals, uiAmount: Number(text), uiAmountString: text };
}

const mintDecoder = getMintDecoder();

export function parsedMint(account: ChainAccount) {
  if (account.data.length !== MINT_SIZE) return null;
  const m = mintDecoder.decode(account.data);
  return {
    type: "mint" as const,
    info: {
      decimals: m.decimals,
      freezeAuthority: m.freezeAuthority.__option === "Some" ? m.freezeAuthority.value : null,
      isInitialized: m.isInitialized,
      mintAuthority: m.mintAuthority.__option === "Some" ? m.mintAuthority.value : null,
      supply: m.supply.toString(),
    },
  };
}

/** `decimals` comes from the mint, which the caller reads. */
export function parsedTokenAccount(account: ChainAccount, decimals: number) {
  const t = decodeTokenAccount(account);
  if (t === null) return null;
  return {
    type: "account" as const,
    info: {
      isNative: false,
      mint: t.mint,
      owner: t.owner,
      state: t.state,
      tokenAmount: tokenAmountJson(t.amount, decimals),
      ...(t.delegate === null
        ? {}
        : { delegate: t.delegate, delegatedAmount: tokenAmountJson(t.delegatedAmount, decimals) }),
      ...(t.closeAuthority === null ? {} : { closeAuthority: t.closeAuthority }),
    },
  };
}
