import type { FastifyInstance } from 'fastify';
import type { Algorithm } from '../../src/core/algorithms.ts';
import { refuse } from '../../src/core/error-codes.ts';
import { kidToLookUp } from '../../src/core/header-checks.ts';
import { verifyKeyPairToken } from '../../src/core/key-pair-token.ts';
import { DEFAULT_POLICY } from '../../src/core/policy.ts';
import { type Rejection, reject } from '../../src/core/reason-codes.ts';
import { plannedSignature } from '../../src/core/signature-work.ts';
import { isoTime, type UnixSeconds } from '../../src/core/time.ts';
import { parseCompactJws } from '../../src/core/token-format.ts';
import type { ResolvedKey } from '../../src/core/verifying-key.ts';
import { ErrorBody, envelopeSchema, markStart, send, sendRefusal } from '../../src/http/envelope.ts';
import { sendUnauthorized } from '../../src/http/error-handler.ts';
import { decorateRequests } from '../../src/http/request-state.ts';
import { PrincipalSchema } from '../../src/http/routes/whoami.ts';
import { tokenHash } from '../../src/service/bearer-text.ts';
import type { Principal } from '../../src/service/principal.ts';
import type { ReplayLedger } from '../../src/service/replay-ledger.ts';
import type { TurnSignatures } from '../../src/service/turn-signatures.ts';

/**
 * `GET /v1/whoami` doing what the spec requires of an accepted key-pair token, with Keygate's own
 * code and nothing Keygate adds: the strict parse, the key-pair check table with the signature
 * verified at the turn's end, the replay ledger, and the answer in the envelope (Keygate's
 * `send`, through the same schema). A refusal is Keygate's 401 with the check's own reason.
 */
export function checkedWhoami(
  app: FastifyInstance,
  keys: ReadonlyMap<string, ResolvedKey & { algorithm: Algorithm }>,
  signatures: TurnSignatures,
  ledger: ReplayLedger,
): void {
  decorateRequests(app);
  app.get(
    '/v1/whoami',
    { schema: { response: { 200: envelopeSchema(PrincipalSchema), 401: ErrorBody, 503: ErrorBody } } },
    (request, reply) => {
      markStart(request);
      const token = (request.headers.authorization ?? '').slice('Bearer '.length);
      const parsed = parseCompactJws(token);
      if (!parsed.ok) return sendUnauthorized(request, reply, parsed.rejection);
      const { jws } = parsed;
      const kid = kidToLookUp(jws.header, jws.payload);
      const key = kid === undefined ? undefined : keys.get(kid);
      const work = key && plannedSignature(jws.header, key, jws);
      // The check table says why (an unknown kid, an algorithm the key may not use, a bad shape).
      const now: UnixSeconds = Math.floor(Date.now() / 1000);
      if (!key || !work) {
        const verified = verifyKeyPairToken(jws, { key, policy: DEFAULT_POLICY, now });
        return sendUnauthorized(request, reply, verified.ok ? reject('kid_unknown') : verified.rejection);
      }
      signatures
        .verify(work)
        .then(async (verdict): Promise<Principal | Rejection> => {
          const verified = verifyKeyPairToken(jws, { key, verdict, policy: DEFAULT_POLICY, now });
          if (!verified.ok) return verified.rejection;
          const { iss, jti, exp, sub, role } = verified.claims;
          const binding = await ledger.bind({
            iss,
            jti,
            tokenHash: tokenHash(token),
            expiresAt: exp + DEFAULT_POLICY.leewaySeconds,
          });
          if (binding !== 'bound') return reject('jti_reused');
          const { orgId, id } = key.record;
          return { org_id: orgId, sub, role, kid: id, method: 'key', expires_at: isoTime(exp) };
        })
        .then(
          (answer) =>
            'code' in answer ? sendUnauthorized(request, reply, answer) : send(request, reply, 200, answer),
          (error: unknown) => {
            // The ledger failed: fail closed, as Keygate does (no token is in the message).
            process.stderr.write(`checked whoami: ${(error as Error).message}\n`);
            return sendRefusal(request, reply, refuse('unavailable'));
          },
        );
      return reply;
    },
  );
}
