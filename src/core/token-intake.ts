import { type Check, checkTable, defineCheck, fail, pass } from './check-run.ts';
import { type Rejection, reject } from './reason-codes.ts';
import { SESSION_TYP } from './session-token.ts';
import { type CompactJws, parseCompactJws } from './token-format.ts';

/**
 * The kinds of token Keygate verifies, told apart before any key is chosen. Each kind has its own
 * check table and never borrows another kind's keys. Signed messages are not tokens: they have
 * their own parser and table (message-format.ts, signed-message.ts) over the registered keys.
 */
export type ClassifiedToken = { kind: 'key-pair'; jws: CompactJws } | { kind: 'session'; jws: CompactJws };

/** The first two checks every token goes through, whatever its kind. */
export interface IntakeValues {
  token: string;
  format: CompactJws;
}

/** `input` is the token, or the rejection that reading it from the request produced. */
interface IntakeEnv {
  input: string | Rejection;
}

const check = defineCheck<IntakeValues, IntakeEnv>();

export const INTAKE_CHECKS: readonly Check<IntakeValues, IntakeEnv>[] = checkTable(
  [],
  [
    check({
      name: 'token',
      needs: [],
      run: (_, { input }) => {
        if (typeof input !== 'string') return fail(input);
        if (input === '') return fail(reject('token_missing'));
        return pass(input, () => ({ message: `A token of ${input.length} characters was sent.` }));
      },
    }),
    check({
      name: 'format',
      needs: ['token'],
      run: ({ token }) => {
        const parsed = parseCompactJws(token);
        if (!parsed.ok) return fail(parsed.rejection);
        return pass(parsed.jws, () => ({
          message: 'Three canonical base64url segments; header and payload are JSON objects.',
        }));
      },
    }),
  ],
);

/** Which kind a parsed token is: Keygate's session tokens say so in `typ`; anything else is key-pair. */
export function classifyToken(jws: CompactJws): ClassifiedToken {
  return jws.header.typ === SESSION_TYP ? { kind: 'session', jws } : { kind: 'key-pair', jws };
}
