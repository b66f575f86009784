import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { buildApp } from '../../src/http/app.ts';
import { AUD, ecPair, type Fixture, fixture, rejectsWith, signJwt, type TestPair } from '../helpers.ts';
import { launchChromium, listenOnLoopback, skipWithoutChromium } from './browser.ts';

// The dashboard's key list in a real browser: each key's usage (accepted, refused with the
// reason codes) and an "Expires soon" badge on a key within the warning window.

const PASSWORD = 'plum-Orchard-19-quietly';
const EMAIL = 'usage-admin@example.com';
const SHOT = '/tmp/usage.png';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('key usage on the dashboard', { skip: skipWithoutChromium }, () => {
  let f: Fixture;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;
  let expiringKid: string;
  const expiring = ecPair();
  const problems: string[] = [];

  const expiringToken = (signer: TestPair, jti: string) =>
    signJwt(
      { alg: 'ES256', typ: 'JWT', kid: expiringKid },
      { aud: AUD, exp: f.now.value + 600, iat: f.now.value, iss: f.orgId, jti, sub: 'ci', role: 'user' },
      signer.privateKey,
    );

  before(async () => {
    f = await fixture();
    f.now.value = Math.floor(Date.now() / 1000);
    await f.keygate.users.create({
      orgId: f.orgId,
      email: EMAIL,
      passHash: sha256(PASSWORD),
      screenName: 'Ada',
      role: 'admin',
    });
    const key = await f.keygate.keys.registerKey({
      orgId: f.orgId,
      publicKey: expiring.publicPem,
      grantedByAdmin: true,
      expiresAt: f.now.value + 5 * 86400,
      label: 'Expiring',
    });
    expiringKid = key.key_id;
    // Three accepted tokens, one of them sent twice (its second use counts too), and two refusals.
    const reused = expiringToken(expiring, 'c');
    for (const token of [expiringToken(expiring, 'a'), expiringToken(expiring, 'b'), reused, reused])
      assert.equal((await f.keygate.authenticator.authenticate(token)).kid, expiringKid);
    const stranger = ecPair();
    await rejectsWith(
      f.keygate.authenticator.authenticate(expiringToken(stranger, 'x')),
      'signature_invalid',
    );
    await rejectsWith(
      f.keygate.authenticator.authenticate(expiringToken(stranger, 'y')),
      'signature_invalid',
    );
    app = await buildApp(f.keygate, { loginRateLimit: 1000 });
    base = await listenOnLoopback(app);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await f?.close();
  });

  test('the key list shows usage per key and flags the key that expires soon', async () => {
    await page.goto(base);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    const headings = await page.locator('#keys-table table.keys thead th').allTextContents();
    assert.deepEqual(headings, [
      'Key',
      'Status',
      'Fingerprint',
      'Owner',
      'Usage',
      'Last used',
      'Expires',
      'Actions',
    ]);

    const expiringRow = page.locator(`tr[data-key-id="${expiringKid}"]`);
    const usage = expiringRow.locator('td[data-label="Usage"]');
    assert.deepEqual(await usage.locator('span').allTextContents(), [
      '4 accepted',
      '2 refused (signature_invalid 2)',
    ]);
    assert.equal(await usage.locator('.usage-refused').getAttribute('title'), 'signature_invalid 2');
    const badge = expiringRow.locator('td[data-label="Expires"] .badge-warning');
    assert.equal(await badge.textContent(), 'Expires soon');
    assert.equal(await badge.isVisible(), true);

    // The fixture's key has no expiry and no use yet: no badge, nothing counted.
    const quietRow = page.locator(`tr[data-key-id="${f.kid}"]`);
    assert.deepEqual(await quietRow.locator('td[data-label="Usage"] span').allTextContents(), [
      '0 accepted',
      '0 refused',
    ]);
    assert.equal(await quietRow.locator('.badge-warning').count(), 0);
    assert.equal(await quietRow.locator('td[data-label="Expires"]').textContent(), 'never');

    await page.screenshot({ path: SHOT, fullPage: false });
    assert.deepEqual(problems, []);
  });
});
