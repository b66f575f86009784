import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';
import { launchChromium, listenOnLoopback, skipWithoutChromium } from './browser.ts';

// The API reference under the Content-Security-Policy it is served with, in a real browser: a
// directive too strict for swagger-ui shows up here as a blank page or a "Refused to ..." error.

describe('/docs in a browser', { skip: skipWithoutChromium }, () => {
  let f: Fixture;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  before(async () => {
    f = await fixture();
    app = await buildApp(f.keygate);
    base = await listenOnLoopback(app);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await f?.close();
  });

  test('renders every endpoint, runs "Try it out", and the browser reports no CSP violation', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${base}/docs`);
    await page.getByText('Keygate', { exact: false }).first().waitFor({ timeout: 15_000 });
    for (const path of ['/v1/whoami', '/auth/hello', '/auth/login', '/healthz', '/.well-known/jwks.json']) {
      assert.ok(await page.locator(`[data-path="${path}"]`).first().isVisible(), path);
    }
    // "Try it out" is a fetch from the page: connect-src must allow this origin.
    await page.locator('[data-path="/healthz"]').first().click();
    await page.getByRole('button', { name: 'Try it out' }).click();
    await page.getByRole('button', { name: 'Execute' }).click();
    const status = page.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 15_000 });
    assert.match((await status.textContent()) ?? '', /^\s*200\b/);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
