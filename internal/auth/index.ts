export { createTokenSigner } from "./token-signer.ts";
export type { Identity, TokenSigner } from "./token-signer.ts";
export { createAccounts } from "./accounts.ts";
export type { Accounts, LoginResult } from "./accounts.ts";
export { loadOrCreateDevSecret } from "./dev-secret.ts";
