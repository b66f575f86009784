// The page is built from elements and text nodes only. The Content-Security-Policy enforces it
// (Trusted Types with no policy make innerHTML throw), so a key label or a token claim can never
// become markup.

export type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | boolean | undefined>;

/** `h('td', {class: 'mono'}, text)`: an element with attributes (false/undefined left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...nodes(children));
  return element;
}

function nodes(children: Child[]): (Node | string)[] {
  return children.flatMap((child) =>
    child === null || child === undefined || child === false
      ? []
      : [typeof child === 'number' ? String(child) : child],
  );
}

/** Replaces every child of `parent`. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...nodes(children));
}

/** The element with this id, of this type, or an error naming what index.html lacks. */
export function byId<T extends HTMLElement>(id: string, type: abstract new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`index.html has no <${type.name}> #${id}`);
  return element;
}

/** A form control of `form` by name, of this type. */
export function control<T extends HTMLElement>(
  form: HTMLFormElement,
  name: string,
  type: abstract new () => T,
): T {
  const element = form.elements.namedItem(name);
  if (!(element instanceof type)) throw new Error(`form #${form.id} has no ${type.name} "${name}"`);
  return element;
}

/** The value of the checked radio button named `name` in `form` ('' when none is). */
export function radioValue(form: HTMLFormElement, name: string): string {
  const group = form.elements.namedItem(name);
  if (!(group instanceof RadioNodeList)) throw new Error(`form #${form.id} has no radio group "${name}"`);
  return group.value;
}

/**
 * Says `message` in the page's polite live region, so a screen reader hears what a click did
 * without its focus moving.
 */
let fading: ReturnType<typeof setTimeout> | undefined;

/** Takes the last status message away (it belongs to a page that is no longer shown). */
export function clearAnnouncement(): void {
  clearTimeout(fading);
  byId('status', HTMLElement).textContent = '';
}

export function announce(message: string): void {
  const region = byId('status', HTMLElement);
  // Emptied first: the same message twice in a row is read twice.
  region.textContent = '';
  clearTimeout(fading);
  requestAnimationFrame(() => {
    region.textContent = message;
    // Seen long enough to read, then out of the way; it has been spoken by then.
    fading = setTimeout(() => {
      region.textContent = '';
    }, 8000);
  });
}

/** Runs `work` with `button` disabled and busy, so a double click cannot send twice. */
export async function busy<T>(button: HTMLButtonElement, label: string, work: () => Promise<T>): Promise<T> {
  const idle = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = idle;
  }
}

/** Writes `text` to the clipboard and says so (or says what to do where the browser refuses). */
export async function copyText(text: string, what: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    announce(`${what} copied to the clipboard.`);
  } catch {
    announce(`The browser did not allow copying; select the ${what.toLowerCase()} and copy it by hand.`);
  }
}
