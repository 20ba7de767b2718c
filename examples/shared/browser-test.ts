/// <reference lib="dom" />
/**
 * What the examples' browser tests share: Chromium, driven by playwright-core, and the waits they
 * use. The browser is the system's (`apt-get install -y chromium`), or the one CHROMIUM_PATH names.
 *
 * Without it a test is skipped with a loud warning, so the rest of the suite still runs on a
 * laptop; under CI=true it fails instead, since a green CI run must mean the pages were tested.
 */

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";

export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const missingChromium = `no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`;

/**
 * Why `example`'s browser test cannot run here (no Chromium, or `otherProblem`, such as a service
 * that does not answer), or undefined when it can: pass it as the describe block's `skip`.
 * The reason is printed loudly; under CI=true this throws it instead.
 */
export function browserTestSkip(example: string, otherProblem?: string): string | undefined {
  const reason = existsSync(chromiumPath) ? otherProblem : missingChromium;
  if (reason === undefined) return undefined;
  if (process.env.CI === "true") throw new Error(`the ${example} example test cannot run in CI: ${reason}`);
  console.warn(`\n!!! ${example} example test skipped: ${reason}\n`);
  return reason;
}

export interface Chromium {
  browser: BrowserContext;
  /**
   * Closes the browser and deletes its profile; then fails if a page logged a 404 (a missing file
   * or favicon: "Failed to load resource" in the console, what a user sees in the developer tools).
   */
  close(): Promise<void>;
}

/** Starts a headless Chromium whose pages open at `viewport` (the size of the README's screenshots). */
export async function launchChromium(viewport: { width: number; height: number }): Promise<Chromium> {
  if (!existsSync(chromiumPath)) throw new Error(missingChromium);
  const { chromium } = await import("playwright-core");
  const profileDir = await mkdtemp(join(tmpdir(), "herald-chromium-"));
  try {
    const browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      viewport,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const notFound: string[] = [];
    browser.on("console", (message) => {
      if (/status of 404/.test(message.text())) notFound.push(`${message.page()?.url() ?? "a page"}: ${message.text()} ${message.location().url}`);
    });
    return {
      browser,
      async close() {
        await browser.close();
        await rm(profileDir, { recursive: true, force: true });
        if (notFound.length > 0) throw new Error(`the pages logged a 404:\n${notFound.join("\n")}`);
      },
    };
  } catch (error) {
    await rm(profileDir, { recursive: true, force: true });
    throw error;
  }
}

/** How long a test waits for the page or Herald to show what it expects. */
const WAIT_MS = 20_000;

/** Waits until the element `id` on `page` reads exactly `text`. */
export async function waitForText(page: Page, id: string, text: string): Promise<void> {
  await page.waitForFunction(([id, text]) => document.getElementById(id!)?.textContent === text, [id, text] as const, { timeout: WAIT_MS });
}

/**
 * Waits until Herald at `heraldUrl` counts at least `count` subscriptions: the pages' subscriptions
 * are in place then, also on a page that has no sign of them to show.
 */
export async function untilSubscriptions(heraldUrl: string, count: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const status = (await (await fetch(`${heraldUrl}/api/status`)).json()) as { subscriptions: number };
    if (status.subscriptions >= count) return;
    if (Date.now() > deadline) throw new Error(`Herald counts ${status.subscriptions} subscriptions, expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
