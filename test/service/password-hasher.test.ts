import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusyError, type HashTicket, PasswordHasher } from '../../src/service/password-hasher.ts';

const CHEAP = { memoryKiB: 64, passes: 1, parallelism: 1 };
const PASSWORD = 'a'.repeat(64);

/** Three tickets fit an idle hasher of one place and a queue of two, and a fourth does not. */
function assertIdle(hasher: PasswordHasher): void {
  const tickets = [hasher.admit(), hasher.admit(), hasher.admit()];
  assert.throws(() => hasher.admit(), BusyError);
  for (const ticket of tickets.reverse()) ticket.cancel();
}

test('a hash ticket holds its place from admit until its hash has run or it is cancelled', async () => {
  const phc = await new PasswordHasher({ params: CHEAP }).hash(PASSWORD);
  const hasher = new PasswordHasher({ params: CHEAP, concurrency: 1, queue: 2 });
  const held = hasher.admit();
  const first = hasher.admit();
  const second = hasher.admit();
  assert.throws(() => hasher.admit(), BusyError);
  assert.equal(hasher.saturated, true);
  second.cancel();
  second.cancel();
  assert.equal(hasher.saturated, false, 'a cancelled ticket leaves the queue, once');
  const late: HashTicket = hasher.admit();
  held.cancel();
  assert.equal(await hasher.verify(PASSWORD, phc, first), true, 'the place given back passed to the next');
  assert.equal(await hasher.verifyDummy(PASSWORD, late), false);
  first.cancel();
  late.cancel();
  assertIdle(hasher);
  const malformed = hasher.admit();
  assert.equal(await hasher.verify(PASSWORD, 'not a phc', malformed), false);
  assertIdle(hasher);
});
