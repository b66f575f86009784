import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { helperMsOfScavenges } from '../scavenge-trace.ts';

const MODULE = new URL('../../src/cli/young-collection.ts', import.meta.url).href;
const MARK = 'young-collection: set';

/**
 * A child process that calls collectYoungOnLoopThread (when `call`), prints MARK, then allocates
 * enough short-lived objects, some kept a while, for the young generation to grow and be
 * scavenged many times; V8 traces every scavenge. Returns the milliseconds V8's helper threads
 * spent on each scavenge after MARK, and what the call returned.
 */
function scavengesAfterMark(call: boolean, nodeFlags: string[] = []): { helperMs: number[]; set: string } {
  const script = `
    import { collectYoungOnLoopThread } from ${JSON.stringify(MODULE)};
    const set = ${call} ? collectYoungOnLoopThread() : 'not called';
    console.log(${JSON.stringify(MARK)}, set);
    const kept = [];
    for (let i = 0; i < 3e6; i++) {
      const o = { i, s: 'x' + i };
      if (i % 10 === 0) kept.push(o);
      if (kept.length > 20000) kept.splice(0, 10000);
    }`;
  const child = spawnSync(
    process.execPath,
    ['--trace-gc-nvp', ...nodeFlags, '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  assert.equal(child.status, 0, child.stderr);
  const lines = child.stdout.split('\n');
  const mark = lines.findIndex((line) => line.startsWith(MARK));
  assert.ok(mark >= 0, child.stdout.slice(0, 500));
  const helperMs = helperMsOfScavenges(lines.slice(mark + 1).join('\n'));
  return { helperMs, set: (lines[mark] as string).slice(MARK.length + 1) };
}

test('after the call, no scavenge uses a helper thread; without it, scavenges here do', () => {
  const control = scavengesAfterMark(false);
  assert.ok(control.helperMs.length > 5, `${control.helperMs.length} scavenges`);
  // What makes the next assertion mean something: here V8 does share scavenges by default.
  assert.ok(
    control.helperMs.some((ms) => ms > 0),
    `helpers' ms without the call: ${control.helperMs}`,
  );
  const serial = scavengesAfterMark(true);
  assert.equal(serial.set, 'true');
  assert.ok(serial.helperMs.length > 5, `${serial.helperMs.length} scavenges`);
  assert.deepEqual(
    serial.helperMs.filter((ms) => ms > 0),
    [],
    "helpers' ms of each scavenge after the call",
  );
});

test("an operator's --parallel-scavenge on Node's command line stands", () => {
  const kept = scavengesAfterMark(true, ['--parallel-scavenge']);
  assert.equal(kept.set, 'false');
  assert.ok(
    kept.helperMs.some((ms) => ms > 0),
    `helpers' ms: ${kept.helperMs}`,
  );
});
