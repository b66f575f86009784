import { api, clearSession, type LoginResult, type Principal, readSession, saveSession } from './api.js';
import { sha256Hex } from './crypto.js';
import { busy, byId, control, fill } from './dom.js';
import { onSubmit } from './forms.js';
import { type Me, setMe } from './state.js';

// Logging in and out. Spec 004's login takes `pass_hash`, the SHA-256 hex of the password: the
// page computes it here, so the password itself is never sent, and forgets the field at once.

/** Who the stored session belongs to, or undefined (and no session) when it has ended. */
export async function resume(): Promise<Me | undefined> {
  const session = readSession();
  if (!session) return undefined;
  const principal = await api<Principal>('GET', '/v1/whoami');
  return { user: session.user, principal };
}

async function login(form: HTMLFormElement, onLogin: (me: Me) => void): Promise<void> {
  const user = control(form, 'user', HTMLInputElement).value.trim();
  const password = control(form, 'password', HTMLInputElement);
  const button = control(form, 'submit', HTMLButtonElement);
  const me = await busy(button, 'Logging in…', async () => {
    const passHash = await sha256Hex(password.value);
    password.value = '';
    const result = await api<LoginResult>('POST', '/auth/login', {
      body: { user, pass_hash: passHash },
      token: null,
    });
    const token = result.token.HY_APP_AUTH_v1;
    const principal = await api<Principal>('GET', '/v1/whoami', { token });
    saveSession({ token, user: result.user });
    return { user: result.user, principal };
  });
  onLogin(me);
}

/** Ends the session on the server (best effort) and here (always). */
export async function logout(): Promise<void> {
  const session = readSession();
  clearSession();
  setMe(undefined);
  if (session) await api('POST', '/auth/logout', { token: session.token }).catch(() => {});
}

/** Shows the login form, with why it is shown when the session ended on its own. */
export function showLogin(notice?: string): void {
  const form = byId('login-form', HTMLFormElement);
  const box = byId('login-notice', HTMLElement);
  fill(box, notice ?? '');
  box.hidden = notice === undefined;
  const password = control(form, 'password', HTMLInputElement);
  password.value = '';
  const user = control(form, 'user', HTMLInputElement);
  // Back after a session ended, the email is still there: the password is what is missing.
  (user.value ? password : user).focus();
}

export function wireLogin(onLogin: (me: Me) => void): void {
  onSubmit(byId('login-form', HTMLFormElement), (form) => login(form, onLogin));
}
