import { describeWhenAvailable } from "../../testkit/index.ts";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium, installed by scripts/ensure-chromium.sh (playwright-core ships no browser). */
export const CHROMIUM = "/usr/bin/chromium";

/** Every wait of a browser step is bounded by this. */
export const STEP_TIMEOUT_MS = 15_000;

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = join(import.meta.dir, "..", "..", "..", "artifacts", "web");

/**
 * A describe block that needs a program on the machine. Missing: in CI
 * (CI=true) the suite FAILS, since a browser suite that did not run proves
 * nothing; locally it is skipped, saying how to install the program.
 */
export function describeWithProgram(title: string, program: string, body: () => void): void {
  describeWhenAvailable(title, existsSync(program) ? undefined : `needs ${program} (run scripts/ensure-chromium.sh)`, body);
}

/** Headless chromium with the flags that keep it off the network and quiet. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Viewports the scenario uses: a desktop window and a phone. */
export const viewports = {
  desktop: { viewport: { width: 1100, height: 720 } },
  phone: { viewport: { width: 390, height: 760 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  /** A phone held sideways-short: a few messages already overflow the chat. */
  shortPhone: { viewport: { width: 390, height: 420 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
} as const;

/** A browser profile (one device) with the app open. */
export async function openProfile(browser: Browser, url: string, kind: keyof typeof viewports): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ...viewports[kind], baseURL: url });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[browser ${kind}] page error:`, err.message));
  await page.goto("/");
  return { context, page };
}

/** Saves a screenshot under artifacts/web/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Fills the login form; `create` signs up first. Resolves once the shell shows. */
export async function logIn(page: Page, username: string, password: string, create: boolean): Promise<void> {
  await page.getByLabel("User name").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: create ? "Create account" : "Log in" }).click();
  await page.getByRole("navigation", { name: "Conversations" }).waitFor();
}

/** Starts (or opens) the chat with a user by name. */
export async function startChat(page: Page, peer: string): Promise<void> {
  await page.getByLabel("Start a chat with").fill(peer);
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.locator("#chat-title", { hasText: peer }).waitFor();
}

/** Opens a listed conversation. */
export async function openChat(page: Page, peer: string): Promise<void> {
  await page.locator(`a.conversation[data-peer="${peer}"]`).click();
  await page.locator("#chat-title", { hasText: peer }).waitFor();
}

/** Types a message into the open chat and sends it with Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const composer = page.locator("#composer-text");
  await composer.fill(text);
  await composer.press("Enter");
  await page.locator(".message.own .text", { hasText: text }).first().waitFor();
}

/** Texts of the open chat's messages, top to bottom. */
export function messageTexts(page: Page): Promise<string[]> {
  return page.locator(".message .text").allTextContents();
}

/** Waits until the own message with this text shows `tick` (pending, sent, delivered, read), or one of several. */
export async function waitForTick(page: Page, text: string, tick: string | readonly string[]): Promise<void> {
  await page.waitForFunction(
    ([t, ks]) =>
      [...document.querySelectorAll<HTMLElement>(".message.own")].some(
        (li) => li.querySelector(".text")?.textContent === t && ks.includes(li.dataset.tick ?? ""),
      ),
    [text, typeof tick === "string" ? [tick] : [...tick]] as const,
    { timeout: STEP_TIMEOUT_MS },
  );
}

/** Waits until the open chat shows exactly these texts (all of them, in order). */
export async function waitForTexts(page: Page, texts: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const got = [...document.querySelectorAll(".message .text")].map((e) => e.textContent);
      return got.length === want.length && got.every((t, i) => t === want[i]);
    },
    texts,
    { timeout: STEP_TIMEOUT_MS },
  );
}

/** Waits until the chat header's status line matches. */
export async function waitForStatus(page: Page, pattern: RegExp): Promise<void> {
  await page.waitForFunction(
    ([source, flags]) => new RegExp(source, flags).test(document.querySelector(".chat-header .status")?.textContent ?? ""),
    [pattern.source, pattern.flags] as const,
    { timeout: STEP_TIMEOUT_MS },
  );
}
