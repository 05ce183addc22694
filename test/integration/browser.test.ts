import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { TestBrowser } from '../support/browser';
import { ServiceStack, pollUntil } from '../support/service-stack';
import { tempDir } from '../support/temp-dir';

/** `npm run docs:screenshots` points this at docs/screenshots; otherwise they go to a temporary folder. */
const SCREENSHOTS_DIR = process.env.SCREENSHOTS_DIR;

/**
 * What operators see in the real Temporal Web UI of the dev server, and what client developers see on the docs
 * page, in Debian's Chromium driven by Playwright.
 */
describe('in a real browser', () => {
  let stack: ServiceStack;
  let browser: TestBrowser;
  let uiUrl: string;
  let screenshots: string;
  let completedJob: string;
  let runningJob: string;
  let failedJob: string;
  let otherUsersJob: string;

  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(screenshots, `${name}.png`), animations: 'disabled' });

  beforeAll(async () => {
    // A long first backoff keeps the retrying chunk retrying for as long as the test looks at it.
    stack = await ServiceStack.start({
      uiPort: 0,
      env: { CHUNK_RETRY_INITIAL_INTERVAL_MS: '120000', CHUNK_RETRY_MAX_INTERVAL_MS: '120000' },
    });
    uiUrl = stack.devServer.uiUrl as string;
    screenshots = SCREENSHOTS_DIR ?? (await tempDir('screenshots'));
    await mkdir(screenshots, { recursive: true });
    await stack.writeChunk('standup/part-1.wav', { transcript: 'Good morning everyone.' });
    await stack.writeChunk('standup/part-2.wav', { transcript: 'The release goes out today.' });
    await stack.writeChunk('standup/part-3.wav', { transcript: 'Any blockers?' });
    await stack.writeChunk('standup/garbled.wav');
    await stack.startWorker();

    completedJob = await stack.submit('alice', ['standup/part-1.wav', 'standup/part-2.wav']);
    await stack.waitForJob(completedJob);
    stack.simulator.script('standup/garbled.wav', [
      { status: 400, body: { error: { message: 'audio could not be decoded' } } },
    ]);
    failedJob = await stack.submit('alice', ['standup/part-1.wav', 'standup/garbled.wav']);
    await stack.waitForJob(failedJob);
    stack.simulator.script('standup/part-3.wav', [{ status: 503, body: { error: { message: 'overloaded' } } }]);
    runningJob = await stack.submit('alice', ['standup/part-1.wav', 'standup/part-2.wav', 'standup/part-3.wav']);
    await stack.waitForJob(runningJob, (job) => job.chunks[2].error !== null && job.chunks[1].status === 'completed');
    otherUsersJob = await stack.submit('bob', ['standup/part-1.wav']);
    await stack.waitForJob(otherUsersJob);

    browser = await TestBrowser.launch();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  describe('the Temporal Web UI, for operators', () => {
    let page: Page;

    beforeAll(async () => {
      ({ page } = await browser.newPage());
    });

    const openJob = async (jobId: string, tab?: string) => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${jobId}`);
      await page.getByRole('heading', { name: jobId }).waitFor();
      if (tab) await page.getByTestId(tab).click();
    };

    it('when the browser has not signed in to the codec, then job data reads as encrypted', async () => {
      await openJob(completedJob);
      const input = page.getByTestId('input-and-result');
      await input
        .getByText(/binary\/encrypted|"[A-Za-z0-9+/=]{40,}"/)
        .first()
        .waitFor();
      expect(await input.innerText()).not.toContain('standup/part-1.wav');
    });

    it('when an operator signs in at /codec/session and sets the codec endpoint, then job inputs read decoded', async () => {
      await page.goto(`${stack.apiUrl}/codec/session`);
      await page.getByLabel('Operator API key').fill(stack.apiKeys.ops);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Signed in as ops' }).waitFor();

      await openJob(completedJob);
      await page.getByRole('button', { name: 'Configure Codec Server' }).click();
      const dialog = page.locator('#data-encoder-settings');
      await dialog.getByTestId('use-local-endpoint-input').check();
      await dialog.getByTestId('data-encoder-endpoint-input').fill(`${stack.apiUrl}/codec`);
      await dialog.getByTestId('data-encoder-include-credentials').click();
      await dialog.getByTestId('confirm-modal-button').click();

      await openJob(completedJob);
      await page.getByRole('textbox', { name: 'Input' }).getByText('"standup/part-1.wav"').waitFor();
      await page
        .getByRole('textbox', { name: 'Result' })
        .getByText(/The release goes out today\./)
        .first()
        .waitFor();
    });

    it('when an operator filters on TranscriptionUserId, then they see that user’s jobs, each with its status', async () => {
      const query = encodeURIComponent('TranscriptionUserId = "alice"');
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${query}`);
      const rows = page.getByRole('row');
      await rows.filter({ hasText: runningJob }).waitFor();
      for (const [jobId, status] of [
        [completedJob, 'Completed'],
        [failedJob, 'Failed'],
        [runningJob, 'Running'],
      ] as const) {
        await expectText(rows.filter({ hasText: jobId }), status);
      }
      expect(await page.getByText(otherUsersJob).count()).toBe(0);
      await screenshot(page, 'web-ui-jobs-of-a-user');
    });

    it('when a job is running with a chunk being retried, then its metadata reads the summary, the files and which chunk retries why', async () => {
      await openJob(runningJob, 'user-metadata-tab');
      // The UI renders summaries and details as Markdown, each in a sandboxed frame of its own.
      const texts = await pollUntil(
        () =>
          Promise.all(
            page.frames().map((frame) =>
              frame
                .locator('body')
                .innerText()
                .catch(() => ''),
            ),
          ),
        (all) => all.some((text) => text.includes('retrying')),
        30_000,
      );
      const metadata = texts.join('\n').replace(/\u2044/g, '/');
      expect(metadata).toContain('Transcription for alice: 3 chunks');
      expect(metadata).toMatch(/standup\/part-1\.wav[\s\S]*standup\/part-2\.wav[\s\S]*standup\/part-3\.wav/);
      expect(metadata).toContain('2/3 chunks done, chunk 3 retrying: ASR answered 503: overloaded');
      await screenshot(page, 'web-ui-running-job-metadata');
    });

    it('when a job is open, then its timeline names each chunk activity by index and file, with the attempt of the one retrying', async () => {
      await openJob(runningJob);
      await page.getByText('chunk 1/3: standup/part-1.wav').first().waitFor();
      await page.getByText('chunk 2/3: standup/part-2.wav').first().waitFor();
      await page
        .getByText(/Attempt\s+2 \/ 3\s+•\s+transcribeChunk • chunk 3\/3: standup\/part-3\.wav/)
        .first()
        .waitFor();
      await screenshot(page, 'web-ui-running-job-timeline');
    });

    it('when a job failed, then its page shows the failure with the chunk, its file and the ASR’s reason', async () => {
      await openJob(failedJob);
      await page
        .getByText('1 of 2 chunks failed: chunk 2 (standup/garbled.wav): ASR answered 400: audio could not be decoded')
        .first()
        .waitFor();
      await screenshot(page, 'web-ui-failed-job');
    });
  });

  describe('the API docs page, for client developers', () => {
    let page: Page;

    beforeAll(async () => {
      browser.requests.length = 0;
      browser.consoleErrors.length = 0;
      ({ page } = await browser.newPage());
      await page.goto(`${stack.apiUrl}/docs`);
      await page.locator('.swagger-ui .info .title').getByText('Transcription service').waitFor();
    });

    it('when a developer opens /docs, then every operation of /openapi.json is listed, loaded from the API alone', async () => {
      const document = (await stack.request('GET', '/openapi.json')).json as { paths: Record<string, object> };
      for (const [route, operations] of Object.entries(document.paths)) {
        for (const method of Object.keys(operations)) {
          await expectVisible(page.locator(`.opblock-${method} [data-path="${route}"]`));
        }
      }
      expect(browser.requestsOutside([stack.apiUrl])).toEqual([]);
      expect(browser.consoleErrors).toEqual([]);
      await screenshot(page, 'api-docs');
    });

    it('when a developer authorizes with a key and tries GET /transcript/{jobId}, then the page shows the job', async () => {
      await page.getByRole('button', { name: 'Authorize' }).first().click();
      const dialog = page.locator('.dialog-ux');
      await dialog.getByLabel('auth-bearer-value').fill(stack.apiKeys.alice);
      await dialog.getByRole('button', { name: 'Apply credentials' }).click();
      await dialog.getByRole('button', { name: 'Close', exact: true }).click();

      const operation = page.locator('.opblock-get:has([data-path="/transcript/{jobId}"])');
      await operation.first().locator('.opblock-summary').click();
      await operation.first().getByRole('button', { name: 'Try it out' }).click();
      await operation.first().locator('input[placeholder="jobId"]').fill(completedJob);
      await operation.first().getByRole('button', { name: 'Execute' }).click();
      const response = operation.first().locator('.live-responses-table');
      await response.getByText('"jobStatus": "completed"').waitFor();
      expect(await response.innerText()).toContain('Good morning everyone. The release goes out today.');
    });
  });
});

async function expectVisible(locator: ReturnType<Page['locator']>): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout: 10_000 });
}

async function expectText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  await locator.getByText(text, { exact: false }).first().waitFor({ timeout: 10_000 });
}
