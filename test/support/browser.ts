import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium, which `npm test` installs when missing; Playwright never downloads a browser of its own. */
const CHROMIUM = '/usr/bin/chromium';

/**
 * Without these, Chromium reaches for Google's services at start-up and on every page, and this machine's closed
 * network refuses each attempt.
 */
const QUIET_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * A real headless Chromium for one test file, with a fresh profile per context; records every request a page
 * makes, so a test can tell that a page loaded nothing from outside the origins it expects.
 */
export class TestBrowser {
  readonly requests: string[] = [];
  readonly consoleErrors: string[] = [];

  private constructor(private readonly browser: Browser) {}

  static async launch(): Promise<TestBrowser> {
    return new TestBrowser(await chromium.launch({ executablePath: CHROMIUM, headless: true, args: QUIET_FLAGS }));
  }

  async newPage(viewport = { width: 1440, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('request', (request) => this.requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') this.consoleErrors.push(message.text());
    });
    return { context, page };
  }

  /** Requests made so far to origins other than `allowed`, ignoring the browser's own `data:` and `blob:` URLs. */
  requestsOutside(allowed: string[]): string[] {
    return this.requests.filter((url) => /^https?:/.test(url) && !allowed.includes(new URL(url).origin));
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}
