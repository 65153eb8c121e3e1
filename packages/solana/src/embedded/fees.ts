import { COMPUTE_BUDGET_PROGRAM, LAMPORTS_PER_SIGNATURE } from "../constants.js";
import type { LegacyOrV0Message } from "../wire.js";

/** A message's fee: 5,000 lamports per signature plus any compute-unit price. */
export function feeOf(message: LegacyOrV0Message): bigint {
  let fee = LAMPORTS_PER_SIGNATURE * BigInt(message.header.numSignerAccounts);
  let price = 0n;
  let limit: bigint | undefined;
  let others = 0n;
  for (const ix of message.instructions) {
    const program = message.staticAccounts[ix.programAddressIndex];
    const data = ix.data;
    if (program === COMPUTE_BUDGET_PROGRAM && data !== undefined && data.length > 0) {
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      if (data[0] === 3 && data.length >= 9) price = view.getBigUint64(1, true);
      if (data[0] === 2 && data.length >= 5) limit = BigInt(view.getUint32(1, true));
    } else {
      others++;
    }
  }
  if (price > 0n) {
    const units = limit ?? (others * 200_000n > 1_400_000n ? 1_400_000n : others * 200_000n);
    fee += (price * units + 999_999n) / 1_000_000n;
  }
  return fee;
}

/** Wraps message bytes as an unsigned wire transaction (zeroed signatures) to decode them. */
export function wireOfMessage(messageBytes: Uint8Array): Uint8Array {
  // The first message byte is the header's signer count (after an optional version byte).
  const versioned = (messageBytes[0] ?? 0) & 0x80;
  const signers = messageBytes[versioned ? 1 : 0] ?? 0;
  const wire = new Uint8Array(1 + 64 * signers + messageBytes.length);
  wire[0] = signers; // compact-u16 of a count below 128 is one byte
  wire.set(messageBytes, 1 + 64 * signers);
  return wire;
}
