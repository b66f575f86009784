import type { IncomingMessage, ServerResponse } from 'node:http';
import { challengeOf, refusalBody } from './refusal.ts';
import type { KeygateIdentity, Verifier } from './verifier.ts';

/** A request that passed Keygate: `keygate` says who sent it. */
export interface KeygateRequest extends IncomingMessage {
  keygate?: KeygateIdentity;
}

/** An Express (or Connect, or plain node:http) middleware. */
export type KeygateMiddleware = (
  request: KeygateRequest,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * An Express-style middleware that verifies each request with `verifier`: it sets
 * `request.keygate` and calls `next()`, or answers 401 (503 when Keygate cannot decide) with
 * Keygate's JSON error body and `WWW-Authenticate`. Every Authorization header the request
 * carried is checked, so two of them are refused rather than one picked.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createVerifier, keygateExpress } from 'keygate/sdk';
 *
 * const app = express();
 * app.use(keygateExpress(createVerifier({ url: 'http://127.0.0.1:8080' })));
 * app.get('/orders', (request, response) => response.json({ org: request.keygate?.orgId }));
 * ```
 */
export function keygateExpress(verifier: Verifier): KeygateMiddleware {
  return (request, response, next) => {
    // Every value: `headers.authorization` would show only one of several, and Keygate refuses two.
    const values = request.headersDistinct.authorization ?? [];
    verifier.verify(values).then((result) => {
      if (result.ok) {
        request.keygate = result.identity;
        next();
        return;
      }
      const challenge = challengeOf(result);
      if (challenge !== undefined) response.setHeader('www-authenticate', challenge);
      response.setHeader('x-keygate-reason', result.code);
      response.setHeader('content-type', 'application/json; charset=utf-8');
      response.statusCode = result.status;
      response.end(refusalBody(result));
    }, next);
  };
}
