import { forged } from "@sesame/client";
import { KeystorePassphraseError } from "@sesame/client/node";
import { describe, expect, it } from "vitest";
import { describeError, EXIT } from "../src/output.js";

describe("how the CLI reports the client's typed errors", () => {
  it("a wrong keystore passphrase: exit 4, KEYSTORE_PASSPHRASE, a hint naming SESAME_PASSPHRASE", () => {
    const e = new KeystorePassphraseError("/tmp/keystore.json");
    expect(e.code).toBe("KEYSTORE_PASSPHRASE");
    const f = describeError(e);
    expect(f.exit).toBe(EXIT.SECRET);
    expect(f.exit).toBe(4);
    expect(f.body).toMatchObject({ code: null, name: "KEYSTORE_PASSPHRASE" });
    expect(f.body.message).toContain("/tmp/keystore.json");
    expect(f.body.hint).toContain("SESAME_PASSPHRASE");
  });

  it("a forged read: exit 1, FORGED_READ with what failed, a hint to use another node", () => {
    const f = describeError(
      forged("profile", "W1", "the fields differ from the signed profile action"),
    );
    expect(f.exit).toBe(EXIT.REFUSED);
    expect(f.body).toMatchObject({
      name: "FORGED_READ",
      context: { what: "profile", id: "W1" },
    });
    expect(f.body.hint).toContain("--node");
  });
});
