import type { KeyOwner } from '../core/key-owner.ts';
import type { Store } from '../store/store.ts';

/**
 * The owner of a user's key as the store has them now, read per request so that disabling them
 * stops their keys at once; undefined for a key of the organization or an owner who is gone.
 */
export async function readKeyOwner(
  store: Pick<Store, 'getUser'>,
  userId: string | null | undefined,
): Promise<KeyOwner | undefined> {
  if (!userId) return undefined;
  const user = await store.getUser(userId);
  return user && { id: user.id, email: user.email, status: user.status, role: user.role };
}
