/**
 * Keygate's SDK, `keygate/sdk`. Clients sign tokens (`createSigner`, `signToken`) and messages
 * (`signMessage`); APIs behind Keygate verify requests (`createVerifier` with `keygateFastify`
 * or `keygateExpress`) or, for session tokens only, verify in process (`createLocalSessionVerifier`).
 * It uses node:crypto and the global fetch, and no package at run time.
 *
 * @example
 * ```ts
 * import { createSigner, createVerifier } from 'keygate/sdk';
 * ```
 *
 * @packageDocumentation
 */
export type { Algorithm } from '../core/algorithms.ts';
export { isReasonCode, REASON_CODE_LIST, REASON_CODES, type ReasonCode } from '../core/reason-codes.ts';
export type { Role } from '../core/roles.ts';
export { type KeygateMiddleware, type KeygateRequest, keygateExpress } from './express.ts';
export { type KeygateFastifyOptions, keygateFastify, keygatePreHandler } from './fastify.ts';
export {
  createLocalSessionVerifier,
  type Jwks,
  type LocalSessionVerifier,
  type LocalSessionVerifierOptions,
  type LocalVerifyResult,
  type SessionClaims,
} from './local-verifier.ts';
export type { Denial, DenialCode } from './refusal.ts';
export { type SignMessageOptions, signMessage } from './sign-message.ts';
export { type SignTokenOptions, signToken } from './sign-token.ts';
export {
  createSigner,
  refreshMarginSeconds,
  type Signer,
  type SignerOptions,
  SKEW_REASONS,
  SKEW_THRESHOLD_MS,
} from './signer.ts';
export {
  createVerifier,
  type KeygateIdentity,
  type Verifier,
  type VerifierOptions,
  type VerifyResult,
} from './verifier.ts';
