import type { Algorithm } from './algorithms.ts';
import type { ReasonCode, Rejection } from './reason-codes.ts';
import type { VerifiedMessage } from './signed-message.ts';
import type { JsonObject } from './strict-json.ts';

/** Who signed a message: the organization, through one of its keys, or one user through theirs. */
export type MessageSigner = { type: 'org'; id: string } | { type: 'user'; id: string; email: string };

/** The answer to "is this message signed by a registered key?", as /v1/signatures/verify sends it. */
export interface SignatureVerdict {
  valid: boolean;
  code?: ReasonCode;
  message?: string;
  hint?: string;
  org_id: string | null;
  key_id: string | null;
  owner: MessageSigner | null;
  alg: Algorithm | null;
  payload: string | null;
}

/** How much of a kid that named no usable key is echoed back. */
const ECHOED_KID_LENGTH = 80;

export function acceptedVerdict(verified: VerifiedMessage): SignatureVerdict {
  const { record } = verified.key;
  return {
    valid: true,
    org_id: record.orgId,
    key_id: record.id,
    owner: verified.owner
      ? { type: 'user', id: verified.owner.id, email: verified.owner.email }
      : { type: 'org', id: record.orgId },
    alg: verified.alg,
    payload: verified.payload,
  };
}

/**
 * A refusal says what to change and echoes the kid as sent, and nothing else: whose key it is and
 * what the message says are told only for a signature that verified, so sending junk under
 * someone's kid learns nothing about them.
 */
export function refusedVerdict(rejection: Rejection, header: JsonObject | undefined): SignatureVerdict {
  const kid = header?.kid;
  return {
    valid: false,
    code: rejection.code,
    message: rejection.message,
    hint: rejection.hint,
    org_id: null,
    key_id: typeof kid === 'string' && kid !== '' ? truncate(kid, ECHOED_KID_LENGTH) : null,
    owner: null,
    alg: null,
    payload: null,
  };
}

/** At most `length` code points, so a cut never leaves half of a surrogate pair. */
function truncate(text: string, length: number): string {
  return text.length <= length ? text : Array.from(text).slice(0, length).join('');
}
