// The Keygate HTTP API as the dashboard uses it: every answer is the spec 004 envelope, every
// refusal carries a code, a message and a hint the page shows as they are.

export type Role = 'admin' | 'user' | 'device' | 'service';

export interface ErrorDetail {
  code: string;
  message: string;
  hint?: string;
  field?: string;
  expected?: string;
  actual?: string;
}

export interface SessionUser {
  email: string;
  id: string;
  screen_name: string;
  user_name: string;
}

export interface LoginResult {
  login_timestamp: string;
  token: { HY_APP_AUTH_v1: string };
  user: SessionUser;
}

export interface Principal {
  org_id: string;
  sub: string;
  role: Role;
  kid: string;
  method: 'key' | 'session';
  expires_at: string;
}

export type KeyOwner = { type: 'org'; id: string } | { type: 'user'; id: string; email: string | null };

export interface KeyView {
  key_id: string;
  org_id: string;
  status: 'active' | 'disabled' | 'revoked';
  label: string | null;
  fingerprint: string;
  family: 'rsa' | 'ec-p256';
  bits: number;
  algorithms: string[];
  roles: Role[];
  default_role: Role;
  owner: KeyOwner;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revokes_at: string | null;
  replaced_by: string | null;
  /** The key expires within the server's warning window (KEYGATE_KEY_EXPIRY_WARNING_DAYS). */
  expires_soon: boolean;
  expires_in_seconds: number | null;
  usage: { accepted: number; refused: Record<string, number>; last_used_at: string | null };
}

export interface KeyList {
  keys: KeyView[];
  audience: string;
  max_token_lifetime_seconds: number;
  server_time: string;
}

export interface RegisteredKey {
  org_id: string;
  key_id: string;
  fingerprint: string;
  algorithms: string[];
  roles: Role[];
  default_role: Role;
  owner: KeyOwner;
}

export interface Rotation {
  key: RegisteredKey;
  replaced: KeyView;
}

export interface Check {
  name: string;
  ok: boolean;
  skipped?: boolean;
  code?: string;
  message: string;
  expected?: string;
  actual?: string;
  hint?: string;
  warning?: string;
}

export interface HelloReport {
  valid: boolean;
  code?: string;
  checks: Check[];
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
  server_time: string;
  accepted?: { audiences: string[] };
}

/** A refusal from the API (or no answer at all: code `network`). */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: ErrorDetail;
  constructor(status: number, detail: ErrorDetail) {
    super(detail.message);
    this.status = status;
    this.detail = detail;
  }
}

/** The session ended while a call was made; the login form has already been shown. */
export class SessionEndedError extends ApiError {}

// The session token lives in sessionStorage: this tab only, gone when it closes, and never sent
// by the browser on its own (as a cookie would be, to requests another site starts).
const SESSION_KEY = 'keygate.session';

export interface Session {
  token: string;
  user: SessionUser;
}

export function readSession(): Session | undefined {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as Partial<Session> | null;
    if (typeof value?.token === 'string' && typeof value.user?.id === 'string') return value as Session;
  } catch {
    // Not JSON: treated as no session.
  }
  return undefined;
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

let sessionEnded: (message: string) => void = () => {};

/** What to do when the API says the session is over (any 401 on a call made with it). */
export function onSessionEnded(handler: (message: string) => void): void {
  sessionEnded = handler;
}

interface CallOptions {
  body?: unknown;
  /** Bearer token to send: the session's when omitted, none when null. */
  token?: string | null;
}

/** Calls the API on this origin and returns `results`, or throws ApiError with the refusal. */
export async function api<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const session = options.token === undefined ? readSession() : undefined;
  const token = options.token === undefined ? session?.token : options.token;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      // Nothing ambient rides along: the token is the only credential, and only when set here.
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, {
      code: 'network',
      message: 'The server did not answer.',
      hint: 'Check that Keygate is running and reachable, then try again.',
    });
  }
  const envelope = (await response.json().catch(() => null)) as {
    results?: T;
    error?: ErrorDetail;
  } | null;
  if (response.ok && envelope && 'results' in envelope) return envelope.results as T;
  const detail = envelope?.error ?? {
    code: 'unexpected_answer',
    message: `The server answered ${response.status} without an error in the envelope.`,
    hint: 'Check that this page is served by Keygate itself.',
  };
  if (response.status === 401 && session) {
    clearSession();
    sessionEnded(detail.message);
    throw new SessionEndedError(401, detail);
  }
  throw new ApiError(response.status, detail);
}
