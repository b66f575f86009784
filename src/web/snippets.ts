import type { KeyView } from './api.js';
import { byId, copyText, fill, h } from './dom.js';
import { keyName } from './format.js';
import { privateKeyFileName } from './key-result.js';
import { LANGUAGES, type Language, type SnippetIds, snippet } from './snippet-code.js';
import { currentKeys, currentMe, onKeysChanged } from './state.js';

// The snippets view: pick a key, pick a language, copy. Tabs follow the ARIA tabs pattern: one
// tab stop for the list, arrow keys move between tabs.

let language: Language = 'curl';

function idsFor(key: KeyView): SnippetIds | undefined {
  const me = currentMe();
  const list = currentKeys();
  if (!me || !list) return undefined;
  return {
    origin: location.origin,
    orgId: key.org_id,
    keyId: key.key_id,
    userId: me.principal.sub,
    audience: list.audience,
    role: key.default_role,
    family: key.family,
    ownKey: key.owner.type === 'user',
    lifetimeSeconds: list.max_token_lifetime_seconds,
    keyFile: privateKeyFileName(key.key_id),
  };
}

function selectedKey(): KeyView | undefined {
  const id = byId('snippet-key', HTMLSelectElement).value;
  return currentKeys()?.keys.find((key) => key.key_id === id);
}

function idList(ids: SnippetIds) {
  const rows: [string, string][] = [
    ['Organization id (iss)', ids.orgId],
    ['Key id (kid)', ids.keyId],
    ['User id (sub)', ids.userId],
    ['Audience (aud)', ids.audience],
  ];
  return h(
    'dl',
    { class: 'pairs' },
    ...rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', { class: 'mono' }, value)]),
  );
}

function tabs() {
  const list = h('div', { role: 'tablist', 'aria-label': 'Language', class: 'tabs' });
  const buttons = LANGUAGES.map(({ id, name }) => {
    const selected = id === language;
    const tab = h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `snippet-tab-${id}`,
        'aria-selected': String(selected),
        'aria-controls': 'snippet-panel',
        tabindex: selected ? '0' : '-1',
      },
      name,
    );
    tab.addEventListener('click', () => choose(id));
    return tab;
  });
  list.addEventListener('keydown', (event) => {
    const at = LANGUAGES.findIndex(({ id }) => id === language);
    const step = { ArrowRight: 1, ArrowLeft: -1, Home: -at, End: LANGUAGES.length - 1 - at }[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const next = LANGUAGES[(at + step + LANGUAGES.length) % LANGUAGES.length];
    if (next) choose(next.id, true);
  });
  list.append(...buttons);
  return list;
}

function choose(next: Language, focus = false): void {
  language = next;
  render();
  if (focus) byId(`snippet-tab-${next}`, HTMLButtonElement).focus();
}

function render(): void {
  const holder = byId('snippet-body', HTMLElement);
  const key = selectedKey();
  const ids = key && idsFor(key);
  if (!ids) {
    fill(
      holder,
      h('p', { class: 'empty' }, 'Register a key first: the snippets are written for one of your keys.'),
    );
    return;
  }
  const code = snippet(language, ids);
  const name = LANGUAGES.find(({ id }) => id === language)?.name ?? language;
  const copy = h('button', { type: 'button', class: 'button-small' }, `Copy ${name}`);
  copy.addEventListener('click', () => {
    copyText(code, `The ${name} snippet`).catch(() => {});
  });
  fill(
    holder,
    idList(ids),
    tabs(),
    h(
      'div',
      {
        role: 'tabpanel',
        id: 'snippet-panel',
        'aria-labelledby': `snippet-tab-${language}`,
        class: 'tabpanel',
      },
      h('div', { class: 'snippet-bar' }, copy),
      h('pre', { class: 'code', tabindex: '0', 'aria-label': `${name} snippet` }, h('code', {}, code)),
    ),
  );
}

/** Offers the active keys (the newest first) and redraws when the list changes. */
function refreshKeyChoice(): void {
  const select = byId('snippet-key', HTMLSelectElement);
  const previous = select.value;
  const active = (currentKeys()?.keys ?? [])
    .filter((key) => key.status === 'active')
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  fill(
    select,
    ...active.map((key) => h('option', { value: key.key_id }, `${keyName(key)} (${key.algorithms[0]})`)),
  );
  if (active.some((key) => key.key_id === previous)) select.value = previous;
  select.disabled = active.length === 0;
  render();
}

export function wireSnippets(): void {
  byId('snippet-key', HTMLSelectElement).addEventListener('change', render);
  onKeysChanged(refreshKeyChoice);
}
