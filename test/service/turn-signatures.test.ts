import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import type { SignatureWork } from '../../src/core/signature-work.ts';
import { COSTLY_FROM_US } from '../../src/service/pool-split.ts';
import { atTurnEnd } from '../../src/service/turn-end.ts';
import { fixedSplit, TurnSignatures } from '../../src/service/turn-signatures.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/**
 * A verification of `text`, signed as given (DER ECDSA, as OpenSSL reads it); as in a token, the
 * JWS's own signature is 64 bytes (R||S) whatever the DER's length.
 */
function work(text: string, signature: Buffer, hash: SignatureWork['hash'] = 'sha256'): SignatureWork {
  const data = Buffer.from(text, 'latin1');
  return {
    jws: { signingInput: text, signature: Buffer.alloc(64) },
    algorithm: 'ES256',
    keyObject: publicKey,
    hash,
    data,
    signature,
  };
}
/** Resolves in a new turn of the event loop, its end not yet run. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));
const signed = (text: string) => work(text, sign('sha256', Buffer.from(text, 'latin1'), privateKey));

test("a turn's signatures are verified at its end, each with its own verdict, before the turn's commit", async () => {
  const signatures = new TurnSignatures({ splitFrom: Number.POSITIVE_INFINITY });
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
  const signatures = new TurnSignatures({ splitFrom: Number.POSITIVE_INFINITY });
  const broken = work('a.b', Buffer.alloc(8), 'no-such-hash' as SignatureWork['hash']);
  const [thrown, fine] = await Promise.allSettled([
    signatures.verify(broken),
    signatures.verify(signed('a.b')),
  ]);
  assert.equal(thrown.status, 'rejected');
  assert.deepEqual(fine.status === 'fulfilled' && fine.value.valid, true);
});

test('a signature asked for after the stage ran is verified at the next turn end', async () => {
  const signatures = new TurnSignatures({ splitFrom: Number.POSITIVE_INFINITY });
  const first = signatures.verify(signed('one.1'));
  const late = first.then(() => signatures.verify(signed('two.2')));
  assert.equal((await late).valid, true);
});

test('a costly kind is split: every second signature of the turn goes to the pool, with the same verdicts', async () => {
  // Every kind is costly at 0 us; the first verification of a kind, on the loop, measures it.
  const signatures = new TurnSignatures({ splitFrom: 0 });
  assert.equal((await signatures.verify(signed('first.0'))).valid, true);
  await nextTurn();
  const log: string[] = [];
  const works = [signed('a.1'), work('a.2', signed('a.1').signature), signed('a.3'), signed('a.4')];
  const verdicts = works.map((each, i) =>
    signatures.verify(each).then((verdict) => {
      assert.equal(verdict.work, each);
      log.push(`${i}: ${verdict.valid}`);
    }),
  );
  atTurnEnd('commit', () => log.push('commit'));
  await Promise.all(verdicts);
  // The loop's two are settled before the turn's commit; the pool's two come back after it.
  assert.deepEqual(log.slice(0, 3), ['0: true', '2: true', 'commit']);
  assert.deepEqual(log.slice(3).sort(), ['1: false', '3: true']);
});

test('a lone costly signature stays on the loop: it is answered in its own turn', async () => {
  const signatures = new TurnSignatures({ splitFrom: 0 });
  await signatures.verify(signed('first.0'));
  await nextTurn();
  const log: string[] = [];
  const verdict = signatures.verify(signed('b.1')).then(() => log.push('verdict'));
  atTurnEnd('commit', () => log.push('commit'));
  await verdict;
  await nextTurn();
  assert.deepEqual(log, ['verdict', 'commit']);
});

test('nothing is measured on one core (nothing split), nor with fewer than two cores a server process (the costly kinds split)', () => {
  assert.equal(fixedSplit(1, 1), Number.POSITIVE_INFINITY);
  assert.equal(fixedSplit(2, 1), undefined, 'measured');
  assert.equal(fixedSplit(2, 2), COSTLY_FROM_US);
  assert.equal(fixedSplit(4, 2), undefined, 'measured');
  assert.equal(fixedSplit(4, 3), COSTLY_FROM_US);
});
