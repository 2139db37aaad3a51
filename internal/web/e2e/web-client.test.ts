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
  const RECENT_WINDOW = 8;
  const chat = ["Hi Bob", "Hello Alice", "How are you?", "Fine, thanks!"];
  const notes = ["note 1", "note 2", "note 3", "note 4", "note 5", "note 6"];
  let server: RunningServer;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page };
  let bob: { context: BrowserContext; page: Page };
  let aliceSecond: { context: BrowserContext; page: Page };

  beforeAll(async () => {
    // A short presence grace so "last seen" shows quickly; a small recent
    // window so a new device has to page older history in.
    server = await startEmbeddedServer({ presence: { graceMs: 300 }, gateway: { recentWindow: RECENT_WINDOW } });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    // The last screen of every page, whatever happened (for a failed step's post-mortem).
    for (const [name, profile] of Object.entries({ alice, bob, aliceSecond })) {
      if (profile && !profile.page.isClosed()) await screenshot(profile.page, `99-last-${name}`).catch(() => undefined);
    }
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
    await openChat(bob.page, "alice");
  }, 60_000);

  test("a second device of alice shows the same history, paging older messages in on scroll up, with the same ticks", async () => {
    for (const note of notes) await send(bob.page, note);
    const all = [...chat, ...notes];
    await waitForTexts(alice.page, all);

    aliceSecond = await openProfile(browser, server.url, "shortPhone");
    const { page } = aliceSecond;
    await logIn(page, "alice", PASSWORD, false);
    await openChat(page, "bob");
    // The server sent the recent window; the rest comes in when scrolled to the top.
    await waitForTexts(page, all.slice(-RECENT_WINDOW));
    const list = page.locator(".messages");
    expect(await list.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
    await list.evaluate((el) => el.scrollTo({ top: 0 }));
    await waitForTexts(page, all);
    // The view stayed on what was shown instead of jumping to the new top.
    expect(await list.evaluate((el) => el.scrollTop)).toBeGreaterThan(0);
    await waitForTick(page, "Hi Bob", "read");
    await waitForTick(page, "Fine, thanks!", "read");
    expect(await page.locator(".message.own").count()).toBe(2);
    await screenshot(page, "04-alice-second-device-phone");
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
    await screenshot(page, "05-alice-offline-after-reload");

    await context.setOffline(false);
    const all = [...chat, ...notes, ...offline];
    // Bob has the chat open, so "delivered" may turn "read" before anyone looks.
    await waitForTick(page, "offline three", ["delivered", "read"]);
    await waitForTexts(bob.page, all);
    await waitForTick(page, "offline three", "read");
    await waitForTexts(page, all);
    await waitForTexts(aliceSecond.page, all);
    await page.locator(".banner.hidden").waitFor({ state: "attached" });
    expect(await messageTexts(bob.page)).toEqual(all);
    await screenshot(page, "06-alice-back-online");
    await screenshot(bob.page, "06-bob-after-offline-phone");
  }, 90_000);
});
