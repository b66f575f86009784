import { randomUUID } from 'node:crypto';
import type { UserRecord } from '../core/account-records.ts';
import { type AuditActor, OPERATOR } from '../core/audit.ts';
import { type LoginThrottleState, throttleState } from '../core/login-throttle.ts';
import { checkPassHash, PASS_HASH_HINT } from '../core/pass-hash.ts';
import { isRole, ROLES, type Role } from '../core/roles.ts';
import type { Clock } from '../core/time.ts';
import { normalizeUserName } from '../core/user-name.ts';
import { ConflictError, type Store } from '../store/store.ts';
import { InputError } from './input-error.ts';
import type { KeyAdmin } from './key-admin.ts';
import type { PasswordHasher } from './password-hasher.ts';

export interface NewUserInput {
  orgId: string;
  email: string;
  screenName?: string;
  role?: string;
  /** SHA-256 hex of the password, as the login request will send it. */
  passHash: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Accounts: creation, listing, enabling and disabling, password changes, login unlocks. */
export class UserAdmin {
  private readonly deps: { store: Store; hasher: PasswordHasher; clock: Clock; keys: KeyAdmin };

  constructor(deps: UserAdmin['deps']) {
    this.deps = deps;
  }

  async create(input: NewUserInput, by: AuditActor = OPERATOR): Promise<UserRecord> {
    await this.deps.keys.requireOrg(input.orgId);
    const email = normalizeUserName(input.email);
    if (!EMAIL.test(email) || email.length > 320 || !email.isWellFormed()) {
      throw new InputError(
        'invalid_input',
        'email',
        `${JSON.stringify(input.email.slice(0, 80))} is not an email address.`,
        'Pass --email ali@example.com.',
      );
    }
    const role = input.role ?? 'user';
    if (!isRole(role))
      throw new InputError(
        'invalid_input',
        'role',
        `${JSON.stringify(role)} is not a role.`,
        `Use one of ${ROLES.join(', ')}.`,
      );
    const screenName = (input.screenName ?? email.split('@')[0] ?? email).trim();
    if (screenName.length === 0 || screenName.length > 200) {
      throw new InputError(
        'invalid_input',
        'screen_name',
        'The screen name must be 1 to 200 characters.',
        'Pass --screen-name "Ali".',
      );
    }
    const passwordHash = await this.hashPassHash(input.passHash);
    try {
      return await this.deps.store.createUser(
        {
          id: randomUUID(),
          orgId: input.orgId,
          email,
          screenName,
          role: role as Role,
          status: 'active',
          passwordHash,
          createdAt: this.deps.clock(),
        },
        by,
      );
    } catch (error) {
      if (error instanceof ConflictError)
        throw new InputError(
          'conflict',
          'email',
          input.email.trim() === email
            ? error.message
            : `${error.message} ${JSON.stringify(input.email.trim().slice(0, 80))} is the same name: names are compared as people read them (after Unicode NFKC normalisation and case folding).`,
          'Use another email, or set this user\'s password with "keygate user set-password".',
        );
      throw error;
    }
  }

  /** Each account with the state of its login throttle. */
  async list(orgId: string): Promise<{ user: UserRecord; login: LoginThrottleState }[]> {
    await this.deps.keys.requireOrg(orgId);
    const now = this.deps.clock();
    const users = await this.deps.store.listUsers(orgId);
    return Promise.all(
      users.map(async (user) => ({
        user,
        login: throttleState(await this.deps.store.getLoginAttempts(user.email, now), now),
      })),
    );
  }

  /**
   * Clears every count and wait of the account's login throttle, account-wide and per address;
   * returns the state it cleared.
   */
  async unlock(
    email: string,
    by: AuditActor = OPERATOR,
  ): Promise<{ user: UserRecord; cleared: LoginThrottleState }> {
    const user = await this.require(email);
    const now = this.deps.clock();
    const cleared = throttleState(await this.deps.store.getLoginAttempts(user.email, now), now);
    await this.deps.store.clearLoginAttempts(user.email, by, now);
    return { user, cleared };
  }

  async setStatus(
    email: string,
    status: 'active' | 'disabled',
    by: AuditActor = OPERATOR,
  ): Promise<UserRecord> {
    const user = await this.require(email);
    return (await this.deps.store.setUserStatus(user.id, status, this.deps.clock(), by)) ?? user;
  }

  async setPassword(email: string, passHash: string, by: AuditActor = OPERATOR): Promise<UserRecord> {
    const user = await this.require(email);
    const passwordHash = await this.hashPassHash(passHash);
    return (await this.deps.store.setUserPassword(user.id, passwordHash, this.deps.clock(), by)) ?? user;
  }

  private async require(email: string): Promise<UserRecord> {
    const user = await this.deps.store.getUserByEmail(normalizeUserName(email));
    if (!user)
      throw new InputError(
        'not_found',
        'email',
        `No user has the email ${JSON.stringify(email.slice(0, 80))}.`,
        'List users with "keygate user list --org ORG".',
      );
    return user;
  }

  private async hashPassHash(passHash: string): Promise<string> {
    const checked = checkPassHash(passHash);
    if (!checked.ok) throw new InputError('invalid_input', 'password', checked.message, PASS_HASH_HINT);
    return this.deps.hasher.hash(checked.value);
  }
}
