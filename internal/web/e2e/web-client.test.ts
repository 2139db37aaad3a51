import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startEmbeddedServer, type RunningServer } from "../../app/index.ts";
import {
  CHROMIUM,
  STEP_TIMEOUT_MS,
  describeWithProgram,
  launchChromium,
  logIn,
  messageTexts,
  openChat,
  openProfile,
  screenshot,
  send,
  startChat,
  waitForStatus,
  waitForTexts,
  waitForTick,
} from "./browser-kit.ts";

/**
 * The web client in Chromium against the embedded server, one scenario in
 * steps (each step builds on the previous one): alice on a desktop window,
 * bob on a phone, then a second device of alice, then offline compose with
 * a reload in between. Every wait is bounded (STEP_TIMEOUT_MS).
 */
describeWithProgram("web client in Chromium", CHROMIUM, () => {
  const PASSWORD = "correct horse battery";
  let server: RunningServer;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page };
  let bob: { context: BrowserContext; page: Page };
  let aliceSecond: { context: BrowserContext; page: Page };

  beforeAll(async () => {
    // A short presence grace so "last seen" shows quickly; a small recent
    // window so a new device has to page older history in.
    server = await startEmbeddedServer({ presence: { graceMs: 300 }, gateway: { recentWindow: 3 } });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
  }, 30_000);

  test("alice and bob sign up in their own browsers and chat; delivered shows before bob opens it", async () => {
    alice = await openProfile(browser, server.url, "desktop");
    bob = await openProfile(browser, server.url, "phone");
    await logIn(alice.page, "alice", PASSWORD, true);
    await logIn(bob.page, "bob", PASSWORD, true);

    await startChat(alice.page, "bob");
    await send(alice.page, "Hi Bob");
    await waitForTick(alice.page, "Hi Bob", "delivered");
    // Bob's device stored it (that is what "delivered" means) but nobody read it.
    const badge = bob.page.locator('a.conversation[data-peer="alice"] .badge');
    await badge.waitFor();
    expect(await badge.textContent()).toBe("1");
    expect(await bob.page.locator('a.conversation[data-peer="alice"] .preview').textContent()).toBe("Hi Bob");
    await screenshot(bob.page, "01-bob-list-phone");
  }, 60_000);

  test("ticks turn read when bob opens the chat; his replies arrive in order with the typing indicator first", async () => {
    await openChat(bob.page, "alice");
    await waitForTick(alice.page, "Hi Bob", "read");

    await bob.page.locator("#composer-text").pressSequentially("Hel", { delay: 20 });
    await waitForStatus(alice.page, /typing/);
    await bob.page.locator("#composer-text").fill("");
    await send(bob.page, "Hello Alice");
    await send(bob.page, "How are you?");
    await waitForTexts(alice.page, ["Hi Bob", "Hello Alice", "How are you?"]);
    // Alice has the chat open and visible: she reads them at once.
    await waitForTick(bob.page, "How are you?", "read");
    await send(alice.page, "Fine, thanks!");
    await waitForTick(alice.page, "Fine, thanks!", "read");
    await waitForStatus(alice.page, /^online$/);
    await screenshot(alice.page, "02-alice-chat-desktop");
    await screenshot(bob.page, "02-bob-chat-phone");
  }, 60_000);

  test('presence: bob shows online, then "last seen" after he closes his page', async () => {
    await waitForStatus(alice.page, /^online$/);
    await bob.page.close();
    await waitForStatus(alice.page, /^last seen today at /);
    await screenshot(alice.page, "03-alice-last-seen");
    bob.page = await bob.context.newPage();
    await bob.page.goto("/");
    await waitForStatus(alice.page, /^online$/);
  }, 60_000);

  test("a second device of alice shows the same history, paging older messages in, with the same ticks", async () => {
    aliceSecond = await openProfile(browser, server.url, "desktop");
    await logIn(aliceSecond.page, "alice", PASSWORD, false);
    await openChat(aliceSecond.page, "bob");
    // The server sent the recent window (3): the first message is paged in on demand.
    await waitForTexts(aliceSecond.page, ["Hello Alice", "How are you?", "Fine, thanks!"]);
    await aliceSecond.page.getByRole("button", { name: "Load older messages" }).click();
    await waitForTexts(aliceSecond.page, ["Hi Bob", "Hello Alice", "How are you?", "Fine, thanks!"]);
    await waitForTick(aliceSecond.page, "Hi Bob", "read");
    await waitForTick(aliceSecond.page, "Fine, thanks!", "read");
    expect(await aliceSecond.page.locator(".message.own").count()).toBe(2);
  }, 60_000);

  test("offline: three messages composed offline survive a reload and go out once, in order, when back online", async () => {
    const { context, page } = alice;
    // The shell must be cached by the service worker before the network goes.
    await page.waitForFunction(() => document.documentElement.dataset.offlineReady === "true", null, {
      timeout: STEP_TIMEOUT_MS,
    });
    await context.setOffline(true);
    await page.locator('.banner[data-state="offline"]').waitFor();
    const offline = ["offline one", "offline two", "offline three"];
    for (const text of offline) await send(page, text);
    for (const text of offline) await waitForTick(page, text, "pending");

    await page.reload();
    await page.locator("#chat-title", { hasText: "bob" }).waitFor();
    for (const text of offline) await waitForTick(page, text, "pending");
    await page.locator('.banner[data-state="offline"]').waitFor();
    await screenshot(page, "04-alice-offline-after-reload");

    await context.setOffline(false);
    const all = ["Hi Bob", "Hello Alice", "How are you?", "Fine, thanks!", ...offline];
    await waitForTick(page, "offline three", "delivered");
    await openChat(bob.page, "alice");
    await waitForTexts(bob.page, all);
    await waitForTick(page, "offline three", "read");
    await waitForTexts(page, all);
    await waitForTexts(aliceSecond.page, all);
    await page.locator(".banner.hidden").waitFor({ state: "attached" });
    expect(await messageTexts(bob.page)).toEqual(all);
    await screenshot(page, "05-alice-back-online");
    await screenshot(bob.page, "05-bob-after-offline-phone");
  }, 90_000);
});
