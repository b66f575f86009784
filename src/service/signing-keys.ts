import type { AuditActor } from '../core/audit.ts';
import { isIssuedId } from '../core/ids.ts';
import { grantableRoles } from '../core/key-owner.ts';
import type { KeyRecord } from '../core/key-record.ts';
import { usageByKey } from '../core/key-usage.ts';
import type { Role } from '../core/roles.ts';
import type { Clock } from '../core/time.ts';
import type { KeyCaps, Store } from '../store/store.ts';
import { InputError } from './input-error.ts';
import type { KeyAdmin } from './key-admin.ts';
import type { KeyDirectory } from './key-directory.ts';
import { checkGraceSeconds, checkRotatable } from './key-rotation-checks.ts';
import type { Principal } from './principal.ts';
import { type KeyView, keyView, type RegistrationView, type ViewContext } from './signing-key-views.ts';

export { MAX_GRACE_SECONDS } from './key-rotation-checks.ts';
export type { KeyOwnerView, KeyUsageView, KeyView, RegistrationView } from './signing-key-views.ts';

/** Who is managing keys: an admin manages every key of the org, anyone else only their own. */
export interface Actor {
  orgId: string;
  /** The user acting (a session's, or the owner of the admin key that signed the token); null for an org key. */
  userId: string | null;
  role: Role;
  /** Who the audit trail records: the session's user, or the admin key that signed the token. */
  by: AuditActor;
}

export interface RegisterBody {
  public_key: string;
  label?: string;
  roles?: string[];
  default_role?: string;
  expires_at?: string | number;
  /** "self": the key is the actor's own; "org": the organization's (admins only). */
  owner?: 'self' | 'org';
}

/**
 * Self-service signing keys (spec 002's registerSigningKey, DESIGN.md "Key ownership"): a user
 * registers, lists, rotates and revokes their own keys; an admin those of the whole organization.
 * What another organization holds, or another user for a non-admin, does not exist (404).
 */
export class SigningKeys {
  private readonly deps: {
    store: Store;
    keys: KeyAdmin;
    directory: KeyDirectory;
    clock: Clock;
    caps: KeyCaps;
    /** How soon before its expiry a key is flagged expires_soon (KEYGATE_KEY_EXPIRY_WARNING_DAYS). */
    expiryWarningSeconds: number;
  };

  constructor(deps: SigningKeys['deps']) {
    this.deps = deps;
  }

  /**
   * The actor behind a verified token. A session acts as its user; a key-pair token only with the
   * admin role, as its key's owner (an organization key acts for no one user).
   */
  async actorFor(principal: Principal): Promise<Actor> {
    if (principal.method === 'session')
      return {
        orgId: principal.org_id,
        userId: principal.sub,
        role: principal.role,
        by: { type: 'user', id: principal.sub },
      };
    if (principal.role !== 'admin') {
      throw new InputError(
        'forbidden',
        'authorization',
        `A key-pair token with the role "${principal.role}" cannot manage signing keys.`,
        'Log in (POST /auth/login) and send the session token, or sign a token with the role "admin" with an admin key.',
      );
    }
    const key = await this.deps.store.getKey(principal.kid);
    return {
      orgId: principal.org_id,
      userId: key?.ownerUserId ?? null,
      role: 'admin',
      by: { type: 'key', kid: principal.kid },
    };
  }

  async register(actor: Actor, body: RegisterBody): Promise<RegistrationView> {
    const owner = await this.ownerFor(actor, body.owner);
    const registered = await this.deps.keys.registerKey({
      orgId: actor.orgId,
      publicKey: body.public_key,
      grantedByAdmin: actor.role === 'admin',
      caps: this.deps.caps,
      by: actor.by,
      ...(owner && { owner: { id: owner.id, role: owner.role } }),
      ...(body.roles !== undefined && { roles: body.roles }),
      ...(body.default_role !== undefined && { defaultRole: body.default_role }),
      ...(body.expires_at !== undefined && { expiresAt: body.expires_at }),
      ...(body.label !== undefined && { label: body.label }),
    });
    return {
      org_id: registered.org_id,
      key_id: registered.key_id,
      fingerprint: registered.fingerprint,
      algorithms: registered.algorithms,
      roles: registered.roles,
      default_role: registered.default_role,
      owner: owner ? { type: 'user', id: owner.id, email: owner.email } : { type: 'org', id: actor.orgId },
    };
  }

  async list(actor: Actor): Promise<KeyView[]> {
    // Uses are counted in memory and written in batches; write this process's first.
    await this.deps.directory.flushUsage();
    const records =
      actor.role === 'admin'
        ? await this.deps.store.listKeys(actor.orgId)
        : actor.userId
          ? await this.deps.store.listKeysByOwner(actor.userId)
          : [];
    const context = await this.viewContext(records);
    return records.map((record) => keyView(record, context));
  }

  /** Revocation is final and immediate: the next request signed by the key is refused, cached or not. */
  async revoke(actor: Actor, kid: string): Promise<KeyView> {
    const record = await this.visibleKey(actor, kid);
    const revoked =
      record.status === 'revoked' ? record : await this.deps.keys.setKeyStatus(kid, 'revoked', actor.by);
    return keyView(revoked, await this.viewContext([revoked]));
  }

  /**
   * Registers `public_key` in place of key `kid`, with the old key's roles, label, expiry and
   * owner, and lets the old key sign until `grace_seconds` from now, when it is revoked by itself.
   */
  async rotate(
    actor: Actor,
    kid: string,
    body: { public_key: string; grace_seconds: number },
  ): Promise<{ key: RegistrationView; replaced: KeyView }> {
    const old = await this.visibleKey(actor, kid);
    const grace = body.grace_seconds;
    checkGraceSeconds(grace);
    checkRotatable(old, kid);
    const now = this.deps.clock();
    const owner = old.ownerUserId === null ? undefined : await this.deps.store.getUser(old.ownerUserId);
    // A demoted owner's replacement gets only the roles they may still grant.
    const roles = owner ? old.roles.filter((role) => grantableRoles(owner.role).includes(role)) : old.roles;
    const prepared = this.deps.keys.prepareKey(
      {
        orgId: old.orgId,
        publicKey: body.public_key,
        roles,
        ...(roles.includes(old.defaultRole) && { defaultRole: old.defaultRole }),
        ...(old.expiresAt !== null && old.expiresAt > now && { expiresAt: old.expiresAt }),
        ...(old.label !== null && { label: old.label }),
        grantedByAdmin: true,
        ...(owner && { owner: { id: owner.id, role: owner.role } }),
      },
      now,
    );
    const result = await this.deps.keys.storeKey(() =>
      this.deps.store.rotateKey(kid, prepared.key, now + grace, now, this.deps.caps, actor.by),
    );
    if (!result.ok) {
      throw new InputError(
        result.reason === 'not_found' ? 'not_found' : 'conflict',
        'kid',
        `Key ${kid} changed while it was being rotated (${result.reason.replace('_', ' ')}).`,
        'List the keys again and retry.',
      );
    }
    this.deps.directory.invalidate(result.old);
    this.deps.directory.invalidate(result.key);
    const context = await this.viewContext([result.old, result.key]);
    const view = keyView(result.key, context);
    return {
      key: {
        org_id: view.org_id,
        key_id: view.key_id,
        fingerprint: view.fingerprint,
        algorithms: prepared.algorithms,
        roles: view.roles,
        default_role: view.default_role,
        owner: view.owner,
      },
      replaced: keyView(result.old, context),
    };
  }

  /** The user a new key will belong to, or undefined for a key of the organization. */
  private async ownerFor(actor: Actor, wanted: 'self' | 'org' | undefined) {
    const admin = actor.role === 'admin';
    const choice = wanted ?? (admin ? 'org' : 'self');
    if (choice === 'org') {
      if (!admin) {
        throw new InputError(
          'forbidden',
          'owner',
          'Only an administrator may register a key of the organization.',
          'Leave "owner" out: your key will be your own.',
        );
      }
      return undefined;
    }
    const user = actor.userId ? await this.deps.store.getUser(actor.userId) : undefined;
    if (!user) {
      throw new InputError(
        'invalid_input',
        'owner',
        'This token acts for the organization, not for a user, so a key cannot be "self".',
        'Leave "owner" out to register a key of the organization, or log in as the user.',
      );
    }
    return user;
  }

  /** The key, if the actor may see it; anything else is a 404 that says nothing of who holds it. */
  private async visibleKey(actor: Actor, kid: string): Promise<KeyRecord> {
    const record = isIssuedId(kid) ? await this.deps.store.getKey(kid) : undefined;
    const visible =
      record !== undefined &&
      record.orgId === actor.orgId &&
      (actor.role === 'admin' || (actor.userId !== null && record.ownerUserId === actor.userId));
    if (!record || !visible) {
      throw new InputError(
        'not_found',
        'kid',
        `You have no key with the id ${JSON.stringify(kid.slice(0, 80))}.`,
        'Use a key_id from GET /auth/signing-keys.',
      );
    }
    return record;
  }

  private async viewContext(records: readonly KeyRecord[]): Promise<ViewContext> {
    const ids = [...new Set(records.flatMap((record) => (record.ownerUserId ? [record.ownerUserId] : [])))];
    const [users, usage] = await Promise.all([
      Promise.all(ids.map((id) => this.deps.store.getUser(id))),
      this.deps.store.keyUsage(records.map((record) => record.id)),
    ]);
    return {
      emails: new Map(ids.map((id, i) => [id, users[i]?.email ?? null])),
      usage: usageByKey(usage),
      now: this.deps.clock(),
      expiryWarningSeconds: this.deps.expiryWarningSeconds,
    };
  }
}
