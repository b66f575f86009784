import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clientScope,
  DEFAULT_LOGIN_THROTTLE,
  decideAttempt,
  type LoginAttemptRecord,
  throttleState,
} from '../../src/core/login-throttle.ts';
import { NOW } from '../helpers.ts';

test('the client address an attempt counts under: IPv4 as it is, IPv6 by /64, IPv4-mapped as IPv4', () => {
  for (const [ip, scope] of [
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['', 'unknown'],
    ['  ', 'unknown'],
    // Not an address (a proxy header can say anything): counted as it is, never as the account.
    ['2001:db8::1::2', '2001:db8::1::2'],
    ['zz:1:2:3::', 'zz:1:2:3::'],
    ['x'.repeat(500), 'x'.repeat(100)],
  ]) {
    assert.equal(clientScope(ip as string), scope, ip);
  }
});

test('the defaults: 5 free attempts per address then 30 s doubling to 15 min; 100 per account an hour then 30 s', () => {
  const policy = DEFAULT_LOGIN_THROTTLE;
  let address: LoginAttemptRecord | undefined;
  let account: LoginAttemptRecord | undefined;
  const waits: number[] = [];
  let now = NOW;
  for (let i = 0; i < 12; i++) {
    const decision = decideAttempt(account, address, now, policy);
    assert.ok(decision.allowed, `attempt ${i + 1} at +${now - NOW} s`);
    account = { ...decision.account, address: null, trustedUntil: 0 };
    address = { ...decision.address, address: '192.0.2.1', trustedUntil: 0 };
    waits.push(address.blockedUntil === 0 ? 0 : address.blockedUntil - now);
    now = Math.max(now, address.blockedUntil);
  }
  assert.deepEqual(waits, [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]);
  assert.deepEqual(decideAttempt(account, address, now - 1, policy), {
    allowed: false,
    retryAfterSeconds: 1,
  });

  let wide: LoginAttemptRecord | undefined;
  for (let i = 0; i < 100; i++) {
    const decision = decideAttempt(wide, undefined, NOW, policy);
    assert.ok(decision.allowed);
    wide = { ...decision.account, address: null, trustedUntil: 0 };
  }
  assert.deepEqual(decideAttempt(wide, undefined, NOW, policy), { allowed: false, retryAfterSeconds: 30 });
  const trusted = { attempts: 0, windowEndsAt: NOW, blockedUntil: 0, trustedUntil: NOW + 1 };
  assert.equal(decideAttempt(wide, trusted, NOW, policy).allowed, true, 'a trusted address does not wait');
  assert.equal(decideAttempt(wide, undefined, NOW + 30, policy).allowed, true);
});

test("an account's throttle as an operator sees it", () => {
  const record = (address: string | null, attempts: number, blockedUntil: number): LoginAttemptRecord => ({
    address,
    attempts,
    windowEndsAt: NOW + 100,
    blockedUntil,
    trustedUntil: 0,
  });
  assert.deepEqual(throttleState([], NOW), {
    failures: 0,
    throttledAddresses: 0,
    accountThrottledUntil: null,
    throttledUntil: null,
  });
  assert.deepEqual(
    throttleState(
      [
        record(null, 12, 0),
        record('192.0.2.1', 5, NOW + 30),
        record('192.0.2.2', 9, NOW + 900),
        record('192.0.2.3', 2, 0),
      ],
      NOW,
    ),
    { failures: 12, throttledAddresses: 2, accountThrottledUntil: null, throttledUntil: NOW + 900 },
  );
  assert.deepEqual(throttleState([record(null, 101, NOW + 30), record('192.0.2.1', 5, NOW - 1)], NOW), {
    failures: 101,
    throttledAddresses: 0,
    accountThrottledUntil: NOW + 30,
    throttledUntil: NOW + 30,
  });
  assert.equal(
    throttleState([record(null, 3, 0)], NOW + 100).failures,
    0,
    'a window that ended counts nothing',
  );
});
