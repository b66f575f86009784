import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { BearerText } from '../../src/service/bearer-text.ts';
import { TokenMap } from '../../src/service/token-map.ts';

/** A BearerText that counts how often its hash is taken. */
class CountedText extends BearerText {
  hashes = 0;
  override get hash(): string {
    this.hashes++;
    return super.hash;
  }
}

const tokenText = () => `${randomBytes(30).toString('base64url')}.${randomBytes(40).toString('base64url')}`;
/** Another token with the same last characters: its first one changed (a fixed letter would be the same one in 1 of 64 texts). */
const twinOf = (text: string) => `${text.startsWith('A') ? 'B' : 'A'}${text.slice(1)}`;

test('a BearerText hashes the whole token, once, and only when asked', () => {
  const text = tokenText();
  const token = new BearerText(text);
  const expected = createHash('sha256').update(text).digest('base64url');
  assert.equal(token.hash, expected);
  assert.equal(token.hash, expected);
  assert.equal(new BearerText(`${text}x`).fingerprint === token.fingerprint, false);
  assert.equal(
    new BearerText(text).fingerprint,
    token.fingerprint,
    'the fingerprint is a function of the text',
  );
});

test('a token whose fingerprint the map never counted is answered without its hash', () => {
  const map = new TokenMap<number>(10);
  map.set(new BearerText(tokenText()), 1);
  const stranger = new CountedText(tokenText());
  assert.equal(map.get(stranger), undefined);
  assert.equal(stranger.hashes, 0);
});

test('a held token is found by its hash; another token with its fingerprint is not', () => {
  const map = new TokenMap<number>(10);
  const text = tokenText();
  map.set(new BearerText(text), 7);
  assert.equal(map.get(new BearerText(text)), 7);
  // The same last 16 characters (the fingerprint's), another token.
  const twin = new CountedText(twinOf(text));
  assert.equal(twin.fingerprint, new BearerText(text).fingerprint);
  assert.equal(map.get(twin), undefined);
  assert.equal(twin.hashes, 1, 'a shared fingerprint costs the hash, as every token did before');
});

test('eviction and delete forget a fingerprint only when no held token has it', () => {
  const map = new TokenMap<number>(2);
  const text = tokenText();
  const first = new BearerText(text);
  const twin = new BearerText(twinOf(text));
  map.set(first, 1);
  map.set(twin, 2);
  map.delete(first);
  assert.equal(map.get(new BearerText(twin.text)), 2, 'the twin is still found after the first is deleted');
  map.set(new BearerText(tokenText()), 3);
  map.set(new BearerText(tokenText()), 4);
  assert.equal(map.size, 2);
  const evicted = new CountedText(twin.text);
  assert.equal(map.get(evicted), undefined);
  assert.equal(evicted.hashes, 0, 'the evicted token took its fingerprint with it');
});

test('setting a held token again replaces its value and counts its fingerprint once', () => {
  const map = new TokenMap<number>(10);
  const text = tokenText();
  map.set(new BearerText(text), 1);
  map.set(new BearerText(text), 2);
  assert.equal(map.size, 1);
  assert.equal(map.get(new BearerText(text)), 2);
  map.delete(new BearerText(text));
  const again = new CountedText(text);
  assert.equal(map.get(again), undefined);
  assert.equal(again.hashes, 0, 'one delete removed the one count');
  map.set(new BearerText(text), 3);
  map.clear();
  assert.equal(map.get(new BearerText(text)), undefined);
});
