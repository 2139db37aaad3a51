import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

/**
 * The signing key for the embedded default when none is configured: generated
 * once and kept in the data directory, so tokens survive a restart.
 */
export function loadOrCreateDevSecret(dataDir: string): string {
  const file = join(dataDir, "dev-auth-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
