import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildApp } from '../../src/http/app.ts';
import { AUD, type Fixture, fixture, signJwt } from '../helpers.ts';
import { launchChromium, listenOnLoopback, skipWithoutChromium } from './browser.ts';

// The dashboard in a real browser against a real server, as a new user meets it: log in, make a
// key pair in the page, upload a key, debug a token, copy a snippet, rotate, revoke, log out, and
// come back after the session ended. Along the way every request the page makes is recorded:
// the password never leaves the page, nor does a private key, and nothing goes to another host.

const PASSWORD = 'plum-Orchard-19-quietly';
const EMAIL = 'dana@example.com';
const SHOTS = new URL('./screenshots/', import.meta.url);
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

// The Python snippet runs too where PyJWT is installed (Debian's python3-jwt, which .ci/run
// installs, lives under /usr/bin/python3, which another python3 on PATH may shadow).
const python = ['python3', '/usr/bin/python3'].find(
  (candidate) => spawnSync(candidate, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' }).status === 0,
);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

describe('the dashboard in a browser', { skip: skipWithoutChromium }, () => {
  let f: Fixture;
  let app: FastifyInstance;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let userId: string;
  const requests: Promise<Recorded>[] = [];
  const problems: { text: string; url: string }[] = [];
  const work = mkdtempSync(join(tmpdir(), 'keygate-dashboard-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let generatedPem = '';
  let generatedKid = '';
  let rsaKid = '';

  before(async () => {
    f = await fixture();
    // The server's clock runs ten minutes ahead of this machine's: the page must sign its test
    // token on the server's time (from server_time), or that token would be expired.
    f.now.value = Math.floor(Date.now() / 1000) + 600;
    userId = (
      await f.keygate.users.create({
        orgId: f.orgId,
        email: EMAIL,
        passHash: sha256(PASSWORD),
        screenName: 'Dana',
      })
    ).id;
    app = await buildApp(f.keygate, { loginRateLimit: 1000 });
    base = await listenOnLoopback(app);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: VIEWPORTS.desktop, acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    page = await context.newPage();
    page.on('request', (request) => {
      requests.push(
        request.allHeaders().then((headers) => ({
          url: request.url(),
          method: request.method(),
          headers,
          body: request.postData() ?? '',
        })),
      );
    });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning')
        problems.push({ text: message.text(), url: message.location().url });
    });
    page.on('pageerror', (error) => problems.push({ text: error.message, url: '' }));
    mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await f?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** A full-page screenshot at desktop and at phone width; at phone width nothing may overflow sideways. */
  async function snap(name: string): Promise<void> {
    // A full-page capture draws the fixed status message half-way down the page, over whatever is
    // there: it is emptied first (its text is asserted where it matters). Not by the screenshot's
    // own injected style, which the page's CSP refuses, as it should.
    await page.evaluate('document.getElementById("status").textContent = ""');
    for (const [device, size] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(size);
      await page.screenshot({ path: new URL(`${name}-${device}.png`, SHOTS).pathname, fullPage: true });
      const overflow = (await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      )) as number;
      assert.equal(overflow, 0, `${name} at ${device} width scrolls sideways by ${overflow} px`);
    }
    await page.setViewportSize(VIEWPORTS.desktop);
  }

  const session = async () =>
    JSON.parse(
      ((await page.evaluate('sessionStorage.getItem("keygate.session")')) as string | null) ?? 'null',
    ) as {
      token: string;
    } | null;

  async function api(path: string, token: string) {
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await response.json()) as {
      results: Record<string, string>;
      error: { code: string; message: string };
    };
    return { status: response.status, body };
  }

  function userToken(key: KeyObject, kid: string, claims: Record<string, unknown> = {}): string {
    const now = f.now.value;
    return signJwt(
      { alg: key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256', typ: 'JWT', kid },
      {
        jti: crypto.randomUUID(),
        iss: f.orgId,
        sub: userId,
        iat: now,
        exp: now + 600,
        aud: AUD,
        role: 'user',
        kid,
        ...claims,
      },
      key,
    );
  }

  const row = (text: string) => page.locator('tr.key-row', { hasText: text });

  test('logs in with the keyboard; the session is in sessionStorage, never a cookie', async () => {
    await page.goto(base);
    await page.getByRole('heading', { name: 'Log in to Keygate' }).waitFor();
    await snap('01-login');
    await page.getByLabel('Email').focus();
    await page.keyboard.type(EMAIL);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.id'), 'login-password');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    assert.match((await session())?.token ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(await context.cookies(), []);
    assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password field is emptied');
    await page.locator('#keys-table').getByText('No keys yet').waitFor();
  });

  test('generates a P-256 pair in the page: listed, verified by /auth/hello, private key offered as PKCS#8', async () => {
    await page.getByLabel('P-256').check();
    await page.getByLabel('Label').first().fill('Laptop');
    await page.getByRole('button', { name: 'Generate and register' }).click();
    const result = page.locator('#key-result');
    await result.getByText('the pair works').waitFor({ timeout: 15_000 });
    await result.getByText('Valid: Keygate accepts this token.').waitFor();
    await row('Laptop').getByText('Active').waitFor();
    generatedKid = (await row('Laptop').getAttribute('data-key-id')) as string;
    assert.equal(await result.locator('dd').first().textContent(), generatedKid);
    assert.equal(await page.evaluate('document.activeElement.id'), 'key-result', 'the result takes focus');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      result.getByRole('link', { name: 'Download private key (PEM)' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `keygate-${generatedKid}.pem`);
    generatedPem = readFileSync(await download.path(), 'utf8');
    assert.match(generatedPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    const privateKey = createPrivateKey(generatedPem);
    assert.equal(privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    // The file's key is the registered one: its RFC 7638 thumbprint is the listed fingerprint.
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    const thumbprint = createHash('sha256')
      .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
      .digest('base64url');
    assert.equal((await row('Laptop').locator('td.fingerprint').textContent())?.trim(), thumbprint);
    // And a token signed with it, outside the browser, is accepted.
    const whoami = await api('/v1/whoami', userToken(privateKey, generatedKid));
    assert.equal(whoami.status, 200, JSON.stringify(whoami.body));
    assert.equal(whoami.body.results.sub, userId);
    await snap('02-generated-key');
  });

  test('keeps a pasted private key in the page, and shows the API error beside the field', async () => {
    const field = page.getByRole('textbox', { name: 'Public key' });
    const error = page.locator('#upload-public_key-error');
    const sent = requests.length;
    await field.fill(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await page.getByRole('button', { name: 'Register public key' }).click();
    await error.getByText('This is a private key, so it was not sent').waitFor();
    assert.equal(requests.length, sent, 'nothing was sent');

    // A key the server refuses: RSA-1024 is too short.
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await field.fill(short.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await page.getByRole('button', { name: 'Register public key' }).click();
    await error.getByText('1024', { exact: false }).first().waitFor();
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate('document.activeElement.id'), 'upload-public_key');
    assert.match((await field.getAttribute('aria-describedby')) ?? '', /upload-public_key-error/);
    assert.equal(await error.locator('.hint').count(), 1, 'the hint is shown with the message');
    await snap('03-upload-error');
    await page.getByLabel('Or read it from a file').setInputFiles({
      name: 'ci.pub',
      mimeType: 'text/plain',
      buffer: Buffer.from(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    });
    assert.match(await field.inputValue(), /^-----BEGIN PUBLIC KEY-----/);
    await page.getByLabel('Label').nth(1).fill('CI server');
    await page.getByRole('button', { name: 'Register public key' }).click();
    await row('CI server').getByText('Active').waitFor();
    assert.equal(await error.textContent(), '', 'the error is gone');
    rsaKid = (await row('CI server').getAttribute('data-key-id')) as string;
    await row('CI server').getByText('RSA 2048').waitFor();
    await snap('04-keys-list');
  });

  test('the debugger puts token_expired first, with its hint and what the server expects', async () => {
    await page.getByRole('link', { name: 'Token debugger' }).click();
    await page.getByRole('heading', { name: 'Token debugger' }).waitFor();
    const expired = userToken(rsa.privateKey, rsaKid, { iat: f.now.value - 1200, exp: f.now.value - 600 });
    await page.getByRole('textbox', { name: 'Token' }).fill(expired);
    await page.getByRole('button', { name: 'Check token' }).click();
    const result = page.locator('#debug-result');
    await result.getByText('Rejected (token_expired)').waitFor();
    const first = result.locator('.checks > li').first();
    assert.match((await first.textContent()) ?? '', /Failed\s*exp\s*token_expired/);
    await first.getByText('What to change:').waitFor();
    const expected = (await result.locator('.expected dl').textContent()) ?? '';
    for (const value of [
      f.orgId,
      AUD,
      rsaKid,
      new Date(f.now.value * 1000).toISOString().replace('.000Z', 'Z'),
    ]) {
      assert.ok(expected.includes(value), `${value} in ${expected}`);
    }
    await snap('05-debugger');
  });

  test("snippets carry the user's ids; the copied TypeScript (and Python) sign tokens the API accepts", async () => {
    await page.getByRole('link', { name: 'Code snippets' }).click();
    await page.getByLabel('Key', { exact: true }).selectOption(generatedKid);
    const ids = (await page.locator('#snippet-body dl').textContent()) ?? '';
    for (const value of [f.orgId, generatedKid, userId, AUD])
      assert.ok(ids.includes(value), `${value} in ${ids}`);
    await snap('06-snippets');
    // Arrow keys move between the tabs, as the tabs pattern has it.
    await page.getByRole('tab', { name: 'curl' }).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'TypeScript' }).getAttribute('aria-selected'), 'true');
    await page.getByRole('button', { name: 'Copy TypeScript' }).click();
    await page.locator('#status').getByText('copied to the clipboard').waitFor();
    const code = (await page.evaluate('navigator.clipboard.readText()')) as string;
    assert.equal(code, await page.locator('#snippet-panel pre').textContent());
    for (const value of [f.orgId, generatedKid, userId, AUD]) assert.ok(code.includes(value), value);
    await snap('07-snippet-typescript');

    writeFileSync(join(work, `keygate-${generatedKid}.pem`), generatedPem);
    writeFileSync(join(work, 'keygate-token.mts'), code);
    const run = spawnSync(process.execPath, ['keygate-token.mts'], { cwd: work, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const whoami = await api('/v1/whoami', run.stdout.trim());
    assert.equal(whoami.status, 200, JSON.stringify(whoami.body));
    assert.deepEqual([whoami.body.results.sub, whoami.body.results.kid], [userId, generatedKid]);

    const texts: Record<string, string> = {};
    for (const name of ['Python', 'Go']) {
      await page.getByRole('tab', { name }).click();
      const text = (await page.locator('#snippet-panel pre').textContent()) ?? '';
      for (const value of [f.orgId, generatedKid, userId, AUD])
        assert.ok(text.includes(value), `${name}: ${value}`);
      texts[name] = text;
    }
    await page.getByRole('tab', { name: 'curl' }).click();
    assert.ok((await page.locator('#snippet-panel pre').textContent())?.includes(`${base}/v1/whoami`));
    if (python) {
      writeFileSync(join(work, 'keygate_token.py'), texts.Python as string);
      const py = spawnSync(python, ['keygate_token.py'], { cwd: work, encoding: 'utf8' });
      assert.equal(py.status, 0, py.stderr);
      const accepted = await api('/v1/whoami', py.stdout.trim());
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    }
  });

  test('rotates a key to an RSA 4096 pair made in the page: the old one is revoked after the grace period', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await row('Laptop').getByRole('button', { name: 'Rotate key Laptop' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate this key' });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Algorithm').inputValue(), 'p256', 'the same algorithm by default');
    // The other kind the page makes: RSA 4096, signing RS256 (RSASSA-PKCS1-v1_5).
    await dialog.getByLabel('Algorithm').selectOption('rsa4096');
    await dialog.getByLabel('Grace period in seconds').fill('3600');
    await snap('08-rotate-dialog');
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    const result = page.locator('#key-result');
    await result.getByRole('heading', { name: 'Key rotated: the new pair' }).waitFor({ timeout: 60_000 });
    await result.getByText('the pair works').waitFor({ timeout: 15_000 });
    assert.match((await result.locator('dl').first().textContent()) ?? '', /AlgorithmRS256$/);
    await row('RSA 4096').getByText('Laptop').waitFor();
    await row(generatedKid).getByText('Rotated out: revoked in 1 hour').waitFor();
    assert.deepEqual(await row(generatedKid).getByRole('button').allTextContents(), ['Revoke']);
    await page.locator('#status').getByText('the old one is revoked in 1 hour').waitFor();
    await snap('09-rotated');
    assert.equal(await row('Laptop').count(), 2, 'the new key keeps the label');
  });

  test('revokes a key; a token it signs is then refused over HTTP with key_revoked', async () => {
    const before = await api('/v1/whoami', userToken(rsa.privateKey, rsaKid));
    assert.equal(before.status, 200, JSON.stringify(before.body));
    await row('CI server').getByRole('button', { name: 'Revoke key CI server' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke this key?' });
    await dialog.getByText(rsaKid).waitFor();
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await row('CI server').getByText('Revoked').waitFor();
    assert.equal(await row('CI server').getByRole('button').count(), 0, 'a revoked key has no actions');
    await snap('10-revoked');
    const refused = await api('/v1/whoami', userToken(rsa.privateKey, rsaKid));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'key_revoked');
  });

  test('logs out: the session ends on the server and leaves sessionStorage', async () => {
    const { token } = (await session()) as { token: string };
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You have logged out.').waitFor();
    assert.equal(await session(), null);
    assert.equal((await api('/v1/whoami', token)).status, 401);
  });

  test('an ended session sends the user back to the login form, saying why', async () => {
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    await row('Laptop').first().waitFor();
    // Nothing of before the log out is left: no private key on offer, no debugged token.
    assert.equal(await page.locator('#key-result').isVisible(), false);
    assert.deepEqual(
      await page.evaluate(
        '[document.getElementById("debug-result").hidden, document.getElementById("debug-token").value]',
      ),
      [true, ''],
    );
    f.now.value += 31 * 60;
    await page.getByRole('button', { name: 'Refresh' }).click();
    const notice = page.locator('#login-notice');
    await notice.getByText('Your session has ended').waitFor();
    assert.match((await notice.textContent()) ?? '', /Your session has ended: .+ Log in again/);
    assert.equal(await session(), null);
    assert.equal(await page.getByRole('heading', { name: 'Signing keys' }).isVisible(), false);
    assert.equal(await page.locator('#status').textContent(), '', 'no message of the page left behind');
    assert.equal(await page.evaluate('document.activeElement.id'), 'login-password');
    await snap('11-session-ended');
  });

  test('no request held the password or a private key, none left this origin; no console error but the expected', async () => {
    const recorded = await Promise.all(requests);
    assert.ok(recorded.some((r) => r.url === `${base}/auth/login` && r.body.includes(sha256(PASSWORD))));
    for (const request of recorded) {
      const everything = `${request.url}\n${JSON.stringify(request.headers)}\n${request.body}`;
      assert.ok(!everything.includes(PASSWORD), `${request.method} ${request.url} carries the password`);
      assert.ok(
        !everything.includes('PRIVATE KEY') || request.url.endsWith('/auth/signing-keys'),
        request.url,
      );
      if (request.url.startsWith('blob:')) continue;
      assert.equal(new URL(request.url).origin, base, request.url);
      assert.ok(!new URL(request.url).search, `${request.url} has a query`);
    }
    // Nor does any request carry a line of the private key made in the page.
    for (const line of generatedPem.split('\n').slice(1, -2))
      assert.ok(!recorded.some((r) => r.body.includes(line)), 'a line of the generated private key was sent');
    // Chrome logs every refused fetch as an error: the refused upload (400) and the ended
    // session (401) are expected, and nothing else (a CSP violation would show up here).
    assert.deepEqual(
      problems.map(({ text, url }) => `${text} ${url.replace(base, '')}`),
      [
        'Failed to load resource: the server responded with a status of 400 (Bad Request) /auth/signing-keys',
        'Failed to load resource: the server responded with a status of 401 (Unauthorized) /auth/signing-keys',
      ],
    );
  });
});
