import { forgetActivity, wireActivity } from './activity.js';
import { wireAddKey } from './add-key.js';
import { onSessionEnded, SessionEndedError } from './api.js';
import { wireDebugger } from './debugger.js';
import { announce, byId, clearAnnouncement, fill, h } from './dom.js';
import { clearErrors } from './forms.js';
import { wireKeyActions } from './key-actions.js';
import { forgetPrivateKey } from './key-result.js';
import { loadKeys, wireKeyList } from './keys.js';
import { logout, resume, showLogin, wireLogin } from './login.js';
import { wireSnippets } from './snippets.js';
import { type Me, setMe } from './state.js';

// The dashboard's entry point: one page, three views picked by the URL's fragment (#keys,
// #debugger, #snippets), so Back and bookmarks work. The fragment never carries anything secret.

const VIEWS = ['keys', 'debugger', 'snippets'] as const;
type View = (typeof VIEWS)[number];

function viewOf(hash: string): View {
  const name = hash.replace(/^#/, '');
  return (VIEWS as readonly string[]).includes(name) ? (name as View) : 'keys';
}

function showView(view: View, moveFocus: boolean): void {
  for (const name of VIEWS) byId(`${name}-view`, HTMLElement).hidden = name !== view;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    if (link.hash === `#${view}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // Its heading takes focus, so a screen reader starts reading the view that was just opened.
  if (moveFocus) byId(`${view}-title`, HTMLElement).focus();
}

function setLoggedIn(me: Me | undefined): void {
  byId('login-view', HTMLElement).hidden = me !== undefined;
  byId('nav', HTMLElement).hidden = me === undefined;
  byId('account', HTMLElement).hidden = me === undefined;
  fill(byId('account-email', HTMLElement), me?.user.email ?? '');
  if (me === undefined) for (const name of VIEWS) byId(`${name}-view`, HTMLElement).hidden = true;
}

function enter(me: Me, moveFocus: boolean): void {
  setMe(me);
  setLoggedIn(me);
  showView(viewOf(location.hash), moveFocus);
  loadKeys().catch(() => false);
}

/**
 * Empties everything the last user saw or typed: the next person at this tab, after a log out or
 * an ended session, finds no key list, token or private key of theirs.
 */
function forgetViews(): void {
  clearAnnouncement();
  forgetPrivateKey();
  for (const id of ['generate-form', 'upload-form', 'debug-form']) {
    const form = byId(id, HTMLFormElement);
    form.reset();
    clearErrors(form);
  }
  const debugResult = byId('debug-result', HTMLElement);
  fill(debugResult);
  debugResult.hidden = true;
  fill(byId('keys-error', HTMLElement));
  fill(byId('keys-table', HTMLElement), h('p', { class: 'muted' }, 'Loading keys…'));
  forgetActivity();
}

function leave(notice?: string): void {
  forgetViews();
  setMe(undefined);
  setLoggedIn(undefined);
  showLogin(notice);
}

function start(): void {
  wireLogin((me) => {
    enter(me, true);
    announce(`Logged in as ${me.user.email}.`);
  });
  wireKeyList();
  wireActivity();
  wireKeyActions(loadKeys);
  wireAddKey(loadKeys);
  wireDebugger();
  wireSnippets();
  // Any 401 on a call made with the session: back to the login form, saying why.
  onSessionEnded((message) => {
    for (const dialog of document.querySelectorAll('dialog')) dialog.close();
    leave(`Your session has ended: ${message} Log in again to continue.`);
  });
  byId('logout', HTMLButtonElement).addEventListener('click', () => {
    logout()
      .then(() => leave('You have logged out.'))
      .catch(() => leave('You have logged out.'));
  });
  window.addEventListener('hashchange', () => {
    if (!byId('nav', HTMLElement).hidden) showView(viewOf(location.hash), true);
  });
  resume()
    .then((me) => (me ? enter(me, false) : leave()))
    .catch((error: unknown) => {
      // An ended session has shown the login form already.
      if (!(error instanceof SessionEndedError))
        leave(`The dashboard could not start: ${(error as Error).message}`);
    });
}

start();
