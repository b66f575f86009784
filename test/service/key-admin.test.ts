import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ERROR_CODES, type Refusal } from '../../src/core/error-codes.ts';
import { isoTime } from '../../src/core/time.ts';
import { InputError } from '../../src/service/input-error.ts';
import { KeyAdmin, type RegisterKeyInput } from '../../src/service/key-admin.ts';
import { PasswordHasher } from '../../src/service/password-hasher.ts';
import { UserAdmin } from '../../src/service/users.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { ecPair, NOW, SPEC_RSA, vector } from '../helpers.ts';

let store: SqliteStore;
let keys: KeyAdmin;
let users: UserAdmin;
let orgId: string;

before(async () => {
  store = new SqliteStore(':memory:');
  keys = new KeyAdmin(store, () => NOW);
  // The cheapest argon2id parameters: these tests are about refusals, not about hashing.
  const hasher = new PasswordHasher({ params: { memoryKiB: 64, passes: 1, parallelism: 1 } });
  users = new UserAdmin({ store, hasher, clock: () => NOW, keys });
  orgId = (await keys.createOrg('Admin Errors Org')).id;
});
after(async () => {
  await store.close();
});

/** The refusal an admin call fails with; fails the test when it succeeds or throws anything else. */
async function refusalOf(promise: Promise<unknown>): Promise<Refusal> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof InputError, String(error));
    return error.refusal;
  }
  assert.fail('the call succeeded; an InputError was expected');
}

/** Asserts the code, field and message exactly, and that the hint says `hint`. */
async function refuses(
  promise: Promise<unknown>,
  expected: { code: Refusal['code']; field: string; message: string; hint: RegExp },
): Promise<void> {
  const { hint, ...rest } = await refusalOf(promise);
  const { hint: hintPattern, ...exact } = expected;
  assert.deepEqual(rest, exact);
  assert.match(hint, hintPattern);
}

function keyInput(overrides: Partial<RegisterKeyInput> = {}): RegisterKeyInput {
  return { orgId, publicKey: ecPair().publicPem, grantedByAdmin: false, ...overrides };
}

describe('registering a key', () => {
  test('a key that may sign admin tokens is forbidden unless an admin grants it', async () => {
    const input = keyInput({ roles: ['user', 'admin'] });
    await refuses(keys.registerKey(input), {
      code: 'forbidden',
      field: 'roles',
      message: 'Only an administrator may register a key that signs admin tokens.',
      hint: /Leave out "admin"/,
    });
    const granted = await keys.registerKey({ ...input, grantedByAdmin: true });
    assert.deepEqual(granted.roles, ['user', 'admin']);
  });

  test('an unknown organization is not_found, whether or not the id looks like one', async () => {
    const unknown = randomUUID();
    for (const id of [unknown, 'not-an-org']) {
      await refuses(keys.registerKey(keyInput({ orgId: id })), {
        code: 'not_found',
        field: 'org',
        message: `No organization has the id ${JSON.stringify(id)}.`,
        hint: /keygate org create/,
      });
    }
    await refuses(keys.listKeys(unknown), {
      code: 'not_found',
      field: 'org',
      message: `No organization has the id ${JSON.stringify(unknown)}.`,
      hint: /keygate org create/,
    });
  });

  test('a role that does not exist is invalid_input on roles', async () => {
    for (const role of ['root', 'Admin', '']) {
      await refuses(keys.registerKey(keyInput({ roles: ['user', role] })), {
        code: 'invalid_input',
        field: 'roles',
        message: `${JSON.stringify(role)} is not a role.`,
        hint: /admin, user, device, service/,
      });
    }
  });

  test('a default role outside the key roles is invalid_input on default_role', async () => {
    for (const [roles, defaultRole, listed] of [
      [['device'], 'user', 'device'],
      [['device', 'service'], 'admin', 'device, service'],
      [undefined, 'root', 'user, device, service'],
    ] as const) {
      await refuses(keys.registerKey(keyInput({ ...(roles && { roles: [...roles] }), defaultRole })), {
        code: 'invalid_input',
        field: 'default_role',
        message: `The default role must be one of the key's roles (${listed}).`,
        hint: /roles list/,
      });
    }
  });

  test('an expiry that is now, past, or not a time is invalid_input on expires_at', async () => {
    for (const expiresAt of [NOW, NOW - 1, isoTime(NOW - 86_400)]) {
      const seconds = typeof expiresAt === 'number' ? expiresAt : NOW - 86_400;
      await refuses(keys.registerKey(keyInput({ expiresAt })), {
        code: 'invalid_input',
        field: 'expires_at',
        message: `The expiry ${isoTime(seconds)} is in the past.`,
        hint: /in the future/,
      });
    }
    for (const expiresAt of ['next tuesday', '2027-13-45T00:00:00Z', NOW + 0.5]) {
      await refuses(keys.registerKey(keyInput({ expiresAt })), {
        code: 'invalid_input',
        field: 'expires_at',
        message: `${JSON.stringify(String(expiresAt))} is not a time.`,
        hint: /ISO 8601/,
      });
    }
    const future = await keys.registerKey(keyInput({ expiresAt: NOW + 1 }));
    assert.equal((await store.getKey(future.key_id))?.expiresAt, NOW + 1);
  });

  test('a label over 200 characters is invalid_input on label; 200 is accepted', async () => {
    await refuses(keys.registerKey(keyInput({ label: 'x'.repeat(201) })), {
      code: 'invalid_input',
      field: 'label',
      message: 'The label must be at most 200 characters.',
      hint: /billing-prod/,
    });
    const registered = await keys.registerKey(keyInput({ label: 'x'.repeat(200) }));
    assert.equal((await store.getKey(registered.key_id))?.label, 'x'.repeat(200));
  });

  test('a private key is invalid_input on public_key, with a hint to rotate it', async () => {
    for (const pem of [vector('keys/spec-rsa4096.key'), vector('keys/p256-pkcs8.pem')]) {
      await refuses(keys.registerKey(keyInput({ publicKey: pem })), {
        code: 'invalid_input',
        field: 'public_key',
        message: 'This is a private key.',
        hint: /no longer secret/,
      });
    }
  });

  test('the same public key twice in one organization is a conflict on public_key', async () => {
    const org = await keys.createOrg('Duplicate Key Org');
    const input = keyInput({ orgId: org.id, publicKey: SPEC_RSA.publicPem });
    await keys.registerKey(input);
    await refuses(keys.registerKey(input), {
      code: 'conflict',
      field: 'public_key',
      message: 'This organization has already registered this public key.',
      hint: /keygate key list/,
    });
    assert.equal((await keys.listKeys(org.id)).length, 1);
  });

  test('a public key registered in another organization is a 409 conflict that names no organization', async () => {
    const first = await keys.createOrg('First Owner Org');
    const second = await keys.createOrg('Second Claimant Org');
    const publicKey = ecPair().publicPem;
    const registered = await keys.registerKey(keyInput({ orgId: first.id, publicKey }));
    const expected = {
      code: 'conflict',
      field: 'public_key',
      message:
        'This public key is registered to another organization. Make a new key pair for each organization: a key pair belongs to one organization only.',
      hint: 'Make one with "keygate keygen --out new.key" and register new.key.pub.',
    } as const;
    const refusal = await refusalOf(keys.registerKey(keyInput({ orgId: second.id, publicKey })));
    assert.deepEqual(refusal, expected);
    assert.equal(ERROR_CODES[refusal.code].status, 409);
    assert.doesNotMatch(JSON.stringify(refusal), new RegExp(`${first.id}|First Owner`));
    // Revoking it in the first organization does not free it for the second.
    await keys.setKeyStatus(registered.key_id, 'revoked');
    assert.deepEqual(await refusalOf(keys.registerKey(keyInput({ orgId: second.id, publicKey }))), expected);
    assert.deepEqual(await keys.listKeys(second.id), []);
  });

  test('an organization name that is empty or over 200 characters is invalid_input on name', async () => {
    for (const name of ['', '   ', 'x'.repeat(201)]) {
      await refuses(keys.createOrg(name), {
        code: 'invalid_input',
        field: 'name',
        message: 'The organization name must be 1 to 200 characters.',
        hint: /--name/,
      });
    }
  });

  test('a refused registration stores nothing', async () => {
    const org = await keys.createOrg('Nothing Stored Org');
    const attempts: Partial<RegisterKeyInput>[] = [
      { roles: ['admin'] },
      { roles: ['root'] },
      { defaultRole: 'admin' },
      { expiresAt: NOW },
      { label: 'x'.repeat(201) },
      { publicKey: vector('keys/spec-rsa4096.key') },
    ];
    for (const attempt of attempts) {
      await assert.rejects(keys.registerKey(keyInput({ orgId: org.id, ...attempt })), InputError);
    }
    assert.deepEqual(await keys.listKeys(org.id), []);
  });
});

describe('changing a key status', () => {
  test('enabling or disabling a revoked key is a conflict on kid: revocation is final', async () => {
    const { key_id: kid } = await keys.registerKey(keyInput());
    await keys.setKeyStatus(kid, 'revoked');
    for (const status of ['active', 'disabled'] as const) {
      await refuses(keys.setKeyStatus(kid, status), {
        code: 'conflict',
        field: 'kid',
        message: `Key ${kid} is revoked, and revocation is final.`,
        hint: /new key pair/,
      });
    }
    assert.equal((await store.getKey(kid))?.status, 'revoked');
  });

  test('an unknown kid is not_found on kid', async () => {
    const kid = randomUUID();
    for (const status of ['active', 'disabled', 'revoked'] as const) {
      await refuses(keys.setKeyStatus(kid, status), {
        code: 'not_found',
        field: 'kid',
        message: `No key has the id ${JSON.stringify(kid)}.`,
        hint: /keygate key list/,
      });
    }
  });
});

describe('user admin', () => {
  const passHash = createHash('sha256').update('correct horse battery staple').digest('hex');

  test('an email that is not an address is invalid_input on email', async () => {
    for (const email of ['not-an-email', 'ali@example', '@example.com', 'a b@example.com', '']) {
      await refuses(users.create({ orgId, email, passHash }), {
        code: 'invalid_input',
        field: 'email',
        message: `${JSON.stringify(email)} is not an email address.`,
        hint: /--email/,
      });
    }
  });

  test('a role that does not exist is invalid_input on role', async () => {
    for (const role of ['root', 'ADMIN']) {
      await refuses(users.create({ orgId, email: 'role@example.com', passHash, role }), {
        code: 'invalid_input',
        field: 'role',
        message: `${JSON.stringify(role)} is not a role.`,
        hint: /admin, user, device, service/,
      });
    }
  });

  test('a pass hash that is not SHA-256 hex is invalid_input on password', async () => {
    await refuses(users.create({ orgId, email: 'hash@example.com', passHash: 'secret' }), {
      code: 'invalid_input',
      field: 'password',
      message:
        '"pass_hash" must be exactly 64 hex digits (SHA-256); this one has 6 characters and non-hex ones.',
      hint: /SHA-256/,
    });
  });

  test('an email taken already, in any case, is a conflict on email', async () => {
    await users.create({ orgId, email: 'ali@example.com', passHash });
    await refuses(users.create({ orgId, email: 'Ali@Example.COM', passHash }), {
      code: 'conflict',
      field: 'email',
      message:
        'A user with the email ali@example.com exists already. "Ali@Example.COM" is the same name: names are compared as people read them (after Unicode NFKC normalisation and case folding).',
      hint: /set-password/,
    });
  });

  test('a name that reads the same as a taken one is a 409 conflict: NFC and NFD, fullwidth, any case', async () => {
    const nfc = 'jos\u00e9@example.com';
    const created = await users.create({ orgId, email: 'jose\u0301@example.com', passHash });
    assert.equal(created.email, nfc, 'stored normalised');
    const kate = await users.create({ orgId, email: 'kate@example.com', passHash });
    for (const [email, name] of [
      [nfc, nfc],
      ['JOSE\u0301@EXAMPLE.COM', nfc],
      ['\uff4bate@example.com', 'kate@example.com'],
      ['\uff2bATE@\uff45xample.com', 'kate@example.com'],
    ] as const) {
      const refusal = await refusalOf(users.create({ orgId, email, passHash }));
      assert.equal(ERROR_CODES[refusal.code].status, 409);
      assert.deepEqual(
        { ...refusal, hint: undefined },
        {
          code: 'conflict',
          field: 'email',
          message:
            email === name
              ? `A user with the email ${name} exists already.`
              : `A user with the email ${name} exists already. ${JSON.stringify(email)} is the same name: names are compared as people read them (after Unicode NFKC normalisation and case folding).`,
          hint: undefined,
        },
      );
    }
    // Every lookup by name finds the one account, in whichever form the name is typed.
    assert.equal((await users.setStatus('\uff4bATE@example.com', 'disabled')).id, kate.id);
    assert.equal((await users.setStatus('kate@example.com', 'active')).status, 'active');
    assert.equal((await users.setPassword('JOS\u00c9@example.com', passHash)).id, created.id);
    assert.deepEqual(
      (await users.list(orgId))
        .filter(({ user }) => [created.id, kate.id].includes(user.id))
        .map(({ user }) => user.email),
      [nfc, 'kate@example.com'],
    );
  });

  test('a user in an unknown organization is not_found on org', async () => {
    const unknown = randomUUID();
    await refuses(users.create({ orgId: unknown, email: 'org@example.com', passHash }), {
      code: 'not_found',
      field: 'org',
      message: `No organization has the id ${JSON.stringify(unknown)}.`,
      hint: /keygate org create/,
    });
  });

  test('an unknown user is not_found on email, for every change', async () => {
    const message = 'No user has the email "nobody@example.com".';
    for (const change of [
      () => users.setStatus('nobody@example.com', 'disabled'),
      () => users.setStatus('nobody@example.com', 'active'),
      () => users.setPassword('nobody@example.com', passHash),
    ]) {
      await refuses(change(), { code: 'not_found', field: 'email', message, hint: /keygate user list/ });
    }
  });
});
