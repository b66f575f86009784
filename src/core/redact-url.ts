/**
 * A connection URL fit to print: the password, if any, replaced by `***`; the user, host, port and
 * database stay, since they are what an operator checks. Anything that is not a URL (a SQLite
 * path) comes back as it was.
 */
export function redactUrl(location: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || !URL.canParse(location)) return location;
  const url = new URL(location);
  if (url.password === '') return location;
  url.password = '***';
  return url.href;
}

/** `text` with every occurrence of the URL's password replaced, for messages that may quote it. */
export function redactPassword(text: string, location: string): string {
  if (!URL.canParse(location)) return text;
  const { password } = new URL(location);
  if (password === '') return text;
  let plain = password;
  try {
    plain = decodeURIComponent(password);
  } catch {
    // A stray % that is no escape: the password is as written.
  }
  return text.split(password).join('***').split(plain).join('***');
}
