import type { FastifyInstance } from 'fastify';
import type { Algorithm, KeyFamily } from '../../src/core/algorithms.ts';
import { kidToLookUp } from '../../src/core/header-checks.ts';
import { verifyKeyPairToken } from '../../src/core/key-pair-token.ts';
import type { KeyRecord } from '../../src/core/key-record.ts';
import { DEFAULT_POLICY } from '../../src/core/policy.ts';
import type { ReasonCode } from '../../src/core/reason-codes.ts';
import { ROLES } from '../../src/core/roles.ts';
import { plannedSignature } from '../../src/core/signature-work.ts';
import { isoTime, type UnixSeconds } from '../../src/core/time.ts';
import { parseCompactJws } from '../../src/core/token-format.ts';
import type { ResolvedKey } from '../../src/core/verifying-key.ts';
import { ErrorBody, envelopeSchema } from '../../src/http/envelope.ts';
import { PrincipalSchema } from '../../src/http/routes/whoami.ts';
import { tokenHash } from '../../src/service/bearer-text.ts';
import type { ReplayLedger } from '../../src/service/replay-ledger.ts';
import type { TurnSignatures } from '../../src/service/turn-signatures.ts';
import { VERSION } from '../../src/version.ts';

/** A registered organization key that may sign every role, as the benchmark's fixture registers them. */
export function keyRecord(id: string, orgId: string, spkiPem: string, family: KeyFamily): KeyRecord {
  return {
    id,
    orgId,
    spkiPem,
    thumbprint: '',
    family,
    bits: 0,
    status: 'active',
    expiresAt: null,
    roles: [...ROLES],
    defaultRole: 'user',
    label: null,
    ownerUserId: null,
    revokesAt: null,
    replacedBy: null,
    createdAt: 0,
    lastUsedAt: null,
  };
}

/**
 * `GET /v1/whoami` doing what the spec requires of an accepted key-pair token, with Keygate's own
 * code and nothing Keygate adds: the strict parse, the key-pair check table with the signature
 * verified at the turn's end, the replay ledger, and the envelope through the same schema.
 */
export function checkedWhoami(
  app: FastifyInstance,
  keys: ReadonlyMap<string, ResolvedKey & { algorithm: Algorithm }>,
  signatures: TurnSignatures,
  ledger: ReplayLedger,
): void {
  const debugInfo = (started: number) => ({
    delta: `${(performance.now() - started).toFixed(6)}ms`,
    version: VERSION,
  });
  const refusal = (status: 401 | 503, code: ReasonCode | 'unavailable', started: number) => ({
    status,
    error: { code, message: status === 401 ? 'The token was refused.' : 'The ledger failed.' },
    debug_info: debugInfo(started),
  });
  app.get(
    '/v1/whoami',
    { schema: { response: { 200: envelopeSchema(PrincipalSchema), 401: ErrorBody, 503: ErrorBody } } },
    (request, reply) => {
      const started = performance.now();
      const token = (request.headers.authorization ?? '').slice('Bearer '.length);
      const parsed = parseCompactJws(token);
      if (!parsed.ok) return reply.code(401).send(refusal(401, parsed.rejection.code, started));
      const { jws } = parsed;
      const kid = kidToLookUp(jws.header, jws.payload);
      const key = kid === undefined ? undefined : keys.get(kid);
      const work = key && plannedSignature(jws.header, key, jws);
      if (!key || !work) return reply.code(401).send(refusal(401, 'kid_unknown', started));
      const now: UnixSeconds = Math.floor(Date.now() / 1000);
      signatures
        .verify(work)
        .then(async (verdict) => {
          const verified = verifyKeyPairToken(jws, { key, verdict, policy: DEFAULT_POLICY, now });
          if (!verified.ok) return verified.rejection.code;
          const { iss, jti, exp, sub, role } = verified.claims;
          const binding = await ledger.bind({
            iss,
            jti,
            tokenHash: tokenHash(token),
            expiresAt: exp + DEFAULT_POLICY.leewaySeconds,
          });
          if (binding !== 'bound') return 'jti_reused';
          return {
            org_id: key.record.orgId,
            sub,
            role,
            kid: key.record.id,
            method: 'key',
            expires_at: isoTime(exp),
          };
        })
        .then(
          (results) => {
            if (typeof results === 'string') return reply.code(401).send(refusal(401, results, started));
            return reply.send({ status: 200, results, debug_info: debugInfo(started) });
          },
          (error: unknown) => {
            process.stderr.write(`checked whoami: ${(error as Error).message}\n`);
            return reply.code(503).send(refusal(503, 'unavailable', started));
          },
        );
      return reply;
    },
  );
}
