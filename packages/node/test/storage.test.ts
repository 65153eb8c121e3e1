import { sql } from "kysely";
import { describe, expect, it, onTestFinished } from "vitest";
import { openDatabase } from "../src/index.js";
import { DATABASE_URL, testDatabase } from "./helpers.js";

describe("storage on postgres", () => {
  it("migrates a fresh schema while another schema of the database already holds Sesame's tables", async () => {
    const first = await testDatabase("postgres");
    const second = await testDatabase("postgres");
    onTestFinished(async () => {
      await first.cleanup();
      await second.cleanup();
    });
    const a = await openDatabase(await first.open());
    onTestFinished(() => a.close());
    const b = await openDatabase(await second.open());
    onTestFinished(() => b.close());
    const tables = async (schema: unknown) =>
      (
        await sql<{ name: string }>`
          SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${schema}`.execute(
          b.db,
        )
      ).rows.map((r) => r.name);
    const options = await second.open();
    expect(options.databaseUrl).toBe(DATABASE_URL);
    expect(await tables(options.schema)).toEqual(
      expect.arrayContaining([
        "kysely_migration",
        "kysely_migration_lock",
        "grants",
        "sessions",
        "actions",
        "revocations",
        "equivocations",
        "follows",
        "reactions",
        "profiles",
      ]),
    );
    // Reopening a migrated schema is a no-op.
    const again = await openDatabase(options);
    await again.close();
  });
});

describe("concurrent start on postgres", () => {
  it("lets several nodes create and migrate one fresh schema at the same moment", async () => {
    const database = await testDatabase("postgres");
    onTestFinished(() => database.cleanup());
    const options = await database.open();
    const opened = await Promise.allSettled(
      Array.from({ length: 4 }, () => openDatabase({ ...options, poolSize: 2 })),
    );
    for (const r of opened) if (r.status === "fulfilled") onTestFinished(() => r.value.close());
    expect(opened.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(
      Array(4).fill("ok"),
    );
  });
});
