import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atTurnEnd, TurnBatch } from '../../src/service/turn-end.ts';

/** Resolves once the turn's end has run: an immediate queued after its stages runs after them. */
const turnEnded = () => new Promise((resolve) => setImmediate(resolve));

test('nothing runs before the turn ends, then the stages in order: tokens, verify, commit, write', async () => {
  const ran: string[] = [];
  atTurnEnd('write', () => ran.push('write'));
  atTurnEnd('commit', () => ran.push('commit'));
  atTurnEnd('verify', () => ran.push('verify'));
  atTurnEnd('tokens', () => ran.push('tokens'));
  await Promise.resolve();
  assert.deepEqual(ran, []);
  await turnEnded();
  assert.deepEqual(ran, ['tokens', 'verify', 'commit', 'write']);
});

test("a signature planned while the turn's tokens are decided is verified in the same turn", async () => {
  const log: string[] = [];
  atTurnEnd('tokens', () => {
    log.push('tokens');
    // A fresh token's key is in memory: its signature is planned for the verify stage at once.
    atTurnEnd('verify', () => log.push('verify'));
  });
  atTurnEnd('write', () => log.push('write'));
  await turnEnded();
  assert.deepEqual(log, ['tokens', 'verify', 'write']);
});

test('a commit asked for by the promises a verification settles runs in the same turn', async () => {
  const log: string[] = [];
  atTurnEnd('verify', () => {
    log.push('verify');
    // A token's checks resume after its verdict, two promises on, and claim its jti.
    void Promise.resolve()
      .then(() => undefined)
      .then(() => atTurnEnd('commit', () => log.push('commit')));
  });
  atTurnEnd('write', () => log.push('write'));
  await turnEnded();
  assert.deepEqual(log, ['verify', 'commit', 'write']);
});

test('the writes run after every promise a commit settles, in the same turn, whichever was asked for first', async () => {
  // Started from a timer, so that the turn's end (its immediates) comes before the next timer.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const log: string[] = [];
  let turnOver = false;
  // Another piece of work queued for the end of this turn before either stage.
  setImmediate(() => log.push('other immediate'));
  atTurnEnd('write', () => log.push(`write, turn over: ${turnOver}`));
  atTurnEnd('commit', () => {
    log.push('commit');
    // An answer made three promises after the commit, as a request's chain of awaits makes it.
    void Promise.resolve()
      .then(() => undefined)
      .then(() => undefined)
      .then(() => atTurnEnd('write', () => log.push(`late write, turn over: ${turnOver}`)));
  });
  setTimeout(() => {
    turnOver = true;
  }, 0);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(log, [
    'other immediate',
    'commit',
    'write, turn over: false',
    'late write, turn over: false',
  ]);
});

test('a commit asked for after its stage ran waits for the next turn, and is not lost', async () => {
  const log: string[] = [];
  atTurnEnd('commit', () => {
    log.push('commit 1');
    queueMicrotask(() => atTurnEnd('commit', () => log.push('commit 2')));
  });
  atTurnEnd('write', () => log.push('write 1'));
  await turnEnded();
  assert.deepEqual(log, ['commit 1', 'write 1']);
  await turnEnded();
  assert.deepEqual(log, ['commit 1', 'write 1', 'commit 2']);
});

test('a write asked for by a write task runs in the next turn', async () => {
  const log: string[] = [];
  atTurnEnd('write', () => {
    log.push('write 1');
    atTurnEnd('write', () => log.push('write 2'));
  });
  await turnEnded();
  assert.deepEqual(log, ['write 1']);
  await turnEnded();
  assert.deepEqual(log, ['write 1', 'write 2']);
});

test("a TurnBatch hands over the turn's items together, and one added while it hands them over to the next turn", async () => {
  const taken: string[][] = [];
  const batch: TurnBatch<string> = new TurnBatch('commit', (items) => {
    taken.push(items);
    if (items.includes('b')) batch.add('late');
  });
  batch.add('a');
  batch.add('b');
  assert.deepEqual(taken, []);
  await turnEnded();
  assert.deepEqual(taken, [['a', 'b']]);
  await turnEnded();
  assert.deepEqual(taken, [['a', 'b'], ['late']]);
});
