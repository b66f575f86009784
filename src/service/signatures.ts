import { parseMessageJws } from '../core/message-format.ts';
import { acceptedVerdict, refusedVerdict, type SignatureVerdict } from '../core/signature-verdict.ts';
import { messageKidToLookUp, verifySignedMessage } from '../core/signed-message.ts';
import type { Clock } from '../core/time.ts';
import type { Store } from '../store/store.ts';
import { systemClock } from './clock.ts';
import type { DirectoryEntry, KeyDirectory } from './key-directory.ts';
import { readKeyOwner } from './key-owners.ts';

export interface SignaturesDeps {
  store: Pick<Store, 'getUser'>;
  directory: Pick<KeyDirectory, 'lookup' | 'noteUsed'>;
  clock?: Clock;
}

/** A signed message to verify: a compact JWS, and the message beside it when the JWS is detached. */
export interface SignedMessageInput {
  jws: string;
  payload?: string;
}

/**
 * Verifies signed messages (spec 002's follow and unfollow) with the keys tokens are signed with,
 * under the same rules: the key its kid names, from memory or the store (bounded as for tokens),
 * then its owner as the store has them now. Nothing is bound or cached: a message carries no jti
 * and no expiry, so whether it may be replayed is for the application that reads it to decide.
 *
 * Store failures are not caught: no message is accepted while the store cannot answer.
 */
export class Signatures {
  private readonly deps: SignaturesDeps;
  private readonly clock: Clock;

  constructor(deps: SignaturesDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
  }

  async verify(input: SignedMessageInput): Promise<SignatureVerdict> {
    const now = this.clock();
    const parsed = parseMessageJws(input.jws, input.payload);
    if (!parsed.ok) return refusedVerdict(parsed.rejection, parsed.header);
    const { header } = parsed.jws;
    const kid = messageKidToLookUp(header);
    const found = kid === undefined ? undefined : this.deps.directory.lookup(kid);
    const key: DirectoryEntry | undefined = found instanceof Promise ? await found : found;
    const owner = await readKeyOwner(this.deps.store, key?.record.ownerUserId);
    const checked = verifySignedMessage(parsed.jws, { key, owner, now });
    if (!checked.ok) return refusedVerdict(checked.rejection, header);
    this.deps.directory.noteUsed(checked.message.key.record.id, now);
    return acceptedVerdict(checked.message);
  }
}
