/** Node-only parts: keypair-file wallets and the encrypted file keystore. */
export * from "./keypair-wallet.js";
export * from "./stores/file.js";
