import type { Algorithm } from '../core/algorithms.ts';
import { type AuditActor, OPERATOR } from '../core/audit.ts';
import { isIssuedId } from '../core/ids.ts';
import { intakePublicKey, KeyIntakeError } from '../core/key-intake.ts';
import { grantableRoles } from '../core/key-owner.ts';
import type { KeyRecord, KeyStatus } from '../core/key-record.ts';
import { type KeyUsage, usageByKey } from '../core/key-usage.ts';
import { DEFAULT_KEY_ROLES, DEFAULT_ROLE, isRole, ROLES, type Role } from '../core/roles.ts';
import { type Clock, isoTime, type UnixSeconds } from '../core/time.ts';
import {
  ConflictError,
  KeyCapError,
  type KeyCaps,
  type NewKey,
  type Org,
  type Store,
} from '../store/store.ts';
import { InputError } from './input-error.ts';
import type { KeyDirectory } from './key-directory.ts';

export interface RegisterKeyInput {
  orgId: string;
  publicKey: string;
  roles?: readonly string[];
  defaultRole?: string;
  /** Whole seconds since the epoch, or an ISO 8601 time. */
  expiresAt?: number | string;
  label?: string;
  /** Only an admin may register a key that can sign admin tokens. */
  grantedByAdmin: boolean;
  /** The user the key will belong to (DESIGN.md "Key ownership"); absent for a key of the organization. */
  owner?: { id: string; role: Role };
  /** Live-key caps to hold the organization and the owner to; the CLI operator has none. */
  caps?: KeyCaps;
  /** Who registers it, for the audit trail; the operator when not said. */
  by?: AuditActor;
}

export interface RegisteredKey {
  org_id: string;
  key_id: string;
  fingerprint: string;
  algorithms: readonly Algorithm[];
  roles: Role[];
  default_role: Role;
  owner_user_id: string | null;
}

/** Organizations and their keys: registration, listing, and status changes. */
export class KeyAdmin {
  private readonly store: Store;
  private readonly directory: KeyDirectory | undefined;
  private readonly clock: Clock;

  constructor(store: Store, clock: Clock, directory?: KeyDirectory) {
    this.store = store;
    this.clock = clock;
    this.directory = directory;
  }

  async createOrg(
    name: string,
    options: { singleUseTokens?: boolean } = {},
    by: AuditActor = OPERATOR,
  ): Promise<Org> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 200) {
      throw new InputError(
        'invalid_input',
        'name',
        'The organization name must be 1 to 200 characters.',
        'Pass --name "Example Corp".',
      );
    }
    return this.store.createOrg({ name: trimmed, ...options }, this.clock(), by);
  }

  async listOrgs(): Promise<Org[]> {
    return this.store.listOrgs();
  }

  async requireOrg(orgId: string): Promise<Org> {
    const org = isIssuedId(orgId) ? await this.store.getOrg(orgId) : undefined;
    if (!org) {
      throw new InputError(
        'not_found',
        'org',
        `No organization has the id ${JSON.stringify(orgId.slice(0, 80))}.`,
        'Use an id from "keygate org create" (or "keygate org list").',
      );
    }
    return org;
  }

  async registerKey(input: RegisterKeyInput): Promise<RegisteredKey> {
    const now = this.clock();
    await this.requireOrg(input.orgId);
    const prepared = this.prepareKey(input, now);
    const record = await this.storeKey(() =>
      this.store.insertKey(prepared.key, now, input.caps, input.by ?? OPERATOR),
    );
    this.directory?.invalidate(record);
    return registered(record, prepared.algorithms);
  }

  /**
   * Checks every field of a registration and reads the public key, changing nothing: a
   * registration or a rotation stores what this returns.
   */
  prepareKey(input: RegisterKeyInput, now: UnixSeconds): { key: NewKey; algorithms: readonly Algorithm[] } {
    const ceiling = input.owner ? grantableRoles(input.owner.role) : ROLES;
    const roles = parseRoles(input.roles, input.grantedByAdmin, ceiling, input.owner?.role);
    const defaultRole = parseDefaultRole(input.defaultRole, roles);
    const expiresAt = parseExpiry(input.expiresAt, now);
    const label = input.label?.trim() || null;
    if (label && label.length > 200) {
      throw new InputError(
        'invalid_input',
        'label',
        'The label must be at most 200 characters.',
        'Use a short name such as "billing-prod".',
      );
    }
    let canonical: ReturnType<typeof intakePublicKey>;
    try {
      canonical = intakePublicKey(input.publicKey);
    } catch (error) {
      if (error instanceof KeyIntakeError)
        throw new InputError('invalid_input', 'public_key', error.message, error.hint);
      throw error;
    }
    return {
      key: {
        orgId: input.orgId,
        spkiPem: canonical.spkiPem,
        thumbprint: canonical.thumbprint,
        family: canonical.family,
        bits: canonical.bits,
        expiresAt,
        roles,
        defaultRole,
        label,
        ownerUserId: input.owner?.id ?? null,
      },
      algorithms: canonical.algorithms,
    };
  }

  /** Runs a store write that inserts a key, turning what the store refuses into input errors. */
  async storeKey<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new InputError(
          'conflict',
          error.field,
          error.message,
          error.hint ??
            'Use the key id you were given for it (keygate key list), or register a new key pair.',
        );
      }
      if (error instanceof KeyCapError) {
        throw new InputError(
          'limit_reached',
          'public_key',
          error.scope === 'org'
            ? `This organization already has ${error.limit} live keys, the most it may hold.`
            : `You already have ${error.limit} live keys, the most one user may hold.`,
          'Revoke a key you no longer use (or rotate one instead of adding another), then try again.',
        );
      }
      throw error;
    }
  }

  async listKeys(orgId: string): Promise<KeyRecord[]> {
    await this.requireOrg(orgId);
    return this.store.listKeys(orgId);
  }

  /** The uses of these keys that every process has flushed so far (each flushes every 10 s), by kid. */
  async keyUsage(kids: readonly string[]): Promise<Map<string, KeyUsage>> {
    return usageByKey(await this.store.keyUsage(kids));
  }

  async setKeyStatus(kid: string, status: KeyStatus, by: AuditActor = OPERATOR): Promise<KeyRecord> {
    const change = await this.store.setKeyStatus(kid, status, by, this.clock());
    if (!change.ok) {
      if (change.reason === 'not_found') {
        throw new InputError(
          'not_found',
          'kid',
          `No key has the id ${JSON.stringify(kid.slice(0, 80))}.`,
          'Use a key id from "keygate key list --org ORG".',
        );
      }
      throw new InputError(
        'conflict',
        'kid',
        `Key ${kid} is revoked, and revocation is final.`,
        'Register a new key pair instead.',
      );
    }
    this.directory?.invalidate(change.key);
    return change.key;
  }
}

/** The fields a registration answers with. */
export function registered(record: KeyRecord, algorithms: readonly Algorithm[]): RegisteredKey {
  return {
    org_id: record.orgId,
    key_id: record.id,
    fingerprint: record.thumbprint,
    algorithms,
    roles: record.roles,
    default_role: record.defaultRole,
    owner_user_id: record.ownerUserId,
  };
}

function parseRoles(
  roles: readonly string[] | undefined,
  grantedByAdmin: boolean,
  ceiling: readonly Role[],
  ownerRole: Role | undefined,
): Role[] {
  if (roles === undefined || roles.length === 0) {
    const defaults = DEFAULT_KEY_ROLES.filter((role) => ceiling.includes(role));
    return defaults.length > 0 ? defaults : [...ceiling];
  }
  const unique = [...new Set(roles.map((r) => r.trim()))];
  for (const role of unique) {
    if (!isRole(role)) {
      throw new InputError(
        'invalid_input',
        'roles',
        `${JSON.stringify(role.slice(0, 40))} is not a role.`,
        `Use a comma list of ${ROLES.join(', ')}.`,
      );
    }
  }
  if (unique.includes('admin') && !grantedByAdmin) {
    throw new InputError(
      'forbidden',
      'roles',
      'Only an administrator may register a key that signs admin tokens.',
      'Leave out "admin", or ask an administrator.',
    );
  }
  const beyond = (unique as Role[]).find((role) => !ceiling.includes(role));
  if (beyond && ownerRole) {
    throw new InputError(
      'forbidden',
      'roles',
      `You hold the role "${ownerRole}", so a key of yours cannot sign "${beyond}" tokens: a user cannot grant a role they do not hold.`,
      `Leave "roles" out, or use ${ceiling.map((role) => `"${role}"`).join(', ')}.`,
    );
  }
  return unique as Role[];
}

function parseDefaultRole(defaultRole: string | undefined, roles: Role[]): Role {
  const role = defaultRole ?? (roles.includes(DEFAULT_ROLE) ? DEFAULT_ROLE : roles[0]);
  if (!isRole(role) || !roles.includes(role)) {
    throw new InputError(
      'invalid_input',
      'default_role',
      `The default role must be one of the key's roles (${roles.join(', ')}).`,
      'Pick a default role from the roles list.',
    );
  }
  return role;
}

function parseExpiry(value: number | string | undefined, now: UnixSeconds): UnixSeconds | null {
  if (value === undefined || value === '') return null;
  const seconds = typeof value === 'number' ? value : Math.floor(Date.parse(value) / 1000);
  if (!Number.isSafeInteger(seconds)) {
    throw new InputError(
      'invalid_input',
      'expires_at',
      `${JSON.stringify(String(value))} is not a time.`,
      'Give an ISO 8601 time such as 2027-01-31T00:00:00Z.',
    );
  }
  if (seconds <= now) {
    throw new InputError(
      'invalid_input',
      'expires_at',
      `The expiry ${isoTime(seconds)} is in the past.`,
      'Give a time in the future, or leave it out for a key that does not expire.',
    );
  }
  return seconds;
}
