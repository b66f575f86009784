import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import type { SignatureWork } from '../../src/core/signature-work.ts';
import { atTurnEnd } from '../../src/service/turn-end.ts';
import { TurnSignatures } from '../../src/service/turn-signatures.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** A verification of `text`, signed as given (DER ECDSA, as OpenSSL reads it). */
function work(text: string, signature: Buffer, hash: SignatureWork['hash'] = 'sha256'): SignatureWork {
  const data = Buffer.from(text, 'latin1');
  return {
    jws: { signingInput: text, signature },
    algorithm: 'ES256',
    keyObject: publicKey,
    hash,
    data,
    signature,
  };
}
const signed = (text: string) => work(text, sign('sha256', Buffer.from(text, 'latin1'), privateKey));

test("a turn's signatures are verified at its end, each with its own verdict, before the turn's commit", async () => {
  const signatures = new TurnSignatures();
  const log: string[] = [];
  const good = signed('a.b');
  const bad = work('a.c', good.signature);
  const verdicts = [good, bad, signed('x.y')].map((each, i) =>
    signatures.verify(each).then((verdict) => {
      assert.equal(verdict.work, each, 'the verdict names the very work it was computed for');
      log.push(`verdict ${i}: ${verdict.valid}`);
    }),
  );
  atTurnEnd('commit', () => log.push('commit'));
  await Promise.resolve();
  assert.deepEqual(log, [], 'nothing is verified before the turn ends');
  await Promise.all(verdicts);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(log, ['verdict 0: true', 'verdict 1: false', 'verdict 2: true', 'commit']);
});

test('a verification that throws fails its own request only', async () => {
  const signatures = new TurnSignatures();
  const broken = work('a.b', Buffer.alloc(8), 'no-such-hash' as SignatureWork['hash']);
  const [thrown, fine] = await Promise.allSettled([
    signatures.verify(broken),
    signatures.verify(signed('a.b')),
  ]);
  assert.equal(thrown.status, 'rejected');
  assert.deepEqual(fine.status === 'fulfilled' && fine.value.valid, true);
});

test('a signature asked for after the stage ran is verified at the next turn end', async () => {
  const signatures = new TurnSignatures();
  const first = signatures.verify(signed('one.1'));
  const late = first.then(() => signatures.verify(signed('two.2')));
  assert.equal((await late).valid, true);
});
