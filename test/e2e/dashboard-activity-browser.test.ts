import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';
import { launchChromium, listenOnLoopback, skipWithoutChromium } from './browser.ts';

// The dashboard's "Recent activity" panel in a real browser: an admin logs in, registers a key,
// and sees the registration at the top of the organization's trail; a user who is not an admin
// never sees the panel, and the page never asks for the trail on their behalf.

const PASSWORD = 'plum-Orchard-19-quietly';
const SCREENSHOT = '/tmp/activity.png';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the recent activity panel in a browser', { skip: skipWithoutChromium }, () => {
  let f: Fixture;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  before(async () => {
    f = await fixture();
    f.now.value = Math.floor(Date.now() / 1000);
    for (const [email, role] of [
      ['ada@example.com', 'admin'],
      ['bo@example.com', 'user'],
    ] as const)
      await f.keygate.users.create({ orgId: f.orgId, email, passHash: sha256(PASSWORD), role });
    app = await buildApp(f.keygate, { loginRateLimit: 1000 });
    base = await listenOnLoopback(app);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await f?.close();
  });

  async function logIn(email: string): Promise<{ page: Page; auditCalls: string[] }> {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    const auditCalls: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/auth/audit') auditCalls.push(request.url());
    });
    await page.goto(base);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    return { page, auditCalls };
  }

  test('an admin registers a key and sees it at the top of the recent activity', async () => {
    const { page } = await logIn('ada@example.com');
    const panel = page.locator('#activity-card');
    await panel.getByRole('heading', { name: 'Recent activity' }).waitFor();
    await panel.locator('tr.activity-row[data-action="login.succeeded"]').waitFor();
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await page
      .getByRole('textbox', { name: 'Public key' })
      .fill(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await page.getByLabel('Label').nth(1).fill('Billing API');
    await page.getByRole('button', { name: 'Register public key' }).click();
    const newest = panel.locator('tbody tr').first();
    await newest.getByText('Key registered').waitFor();
    const cells = await newest.locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(1), ['You', 'Key registered', 'Billing API']);
    assert.deepEqual(
      await panel
        .locator('tbody tr')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-action'))),
      ['key.registered', 'login.succeeded', 'user.created', 'user.created', 'key.registered', 'org.created'],
    );
    assert.deepEqual(await panel.locator('tbody tr td:nth-child(2)').allInnerTexts(), [
      'You',
      'You',
      'Operator (command line)',
      'Operator (command line)',
      'Operator (command line)',
      'Operator (command line)',
    ]);
    await panel.scrollIntoViewIfNeeded();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.context().close();
  });

  test('a user who is not an admin sees no panel, and the page does not ask for the trail', async () => {
    const { page, auditCalls } = await logIn('bo@example.com');
    await page.locator('#keys-table').getByText('No keys yet').waitFor();
    assert.equal(await page.locator('#activity-card').isHidden(), true);
    assert.deepEqual(auditCalls, []);
    await page.context().close();
  });
});
