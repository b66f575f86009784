import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printSoak, runSoak } from '../../bench/soak.ts';

// CI's short soak (`npm run soak -- --minutes 10` is the long one): mixed traffic against a
// spawned server for 30 s, every answer checked. Memory growth is judged on the long run only.
test('30 s of mixed traffic: no 5xx and no wrong answer', async () => {
  const report = await runSoak({ seconds: 30, concurrency: 8 });
  printSoak(report);
  assert.equal(report.serverErrors, 0);
  assert.deepEqual([...new Set(report.wrong)], []);
  assert.ok(report.rssStart.readings > 0 && report.rssEnd.readings > 0, 'RSS was read at both ends');
  assert.ok(report.heapStartMb > 0 && report.heapEndMb > 0, "V8's heap was read off /metrics at both ends");
  for (const kind of [
    'warm',
    'fresh',
    'session',
    'unknown kid',
    'login',
    'rotate',
    'revoked, cached',
    'after logout',
  ])
    assert.ok((report.answers[kind] ?? 0) > 0, `no ${kind} traffic ran`);
});
