/**
 * The one form a user name (the account's email) is stored, looked up and compared in, so that
 * names people read as the same are the same account: `josé` typed precomposed (NFC) or as `e`
 * plus a combining accent (NFD), a fullwidth `ｋate` from an East Asian keyboard beside `kate`,
 * the Kelvin sign `K` beside `K`, `Ali` beside `ali`. Without it, each spelling is a separate
 * account, and a look-alike can be registered beside a real one.
 *
 * The steps, and why each:
 * 1. NFKC: compatibility characters (fullwidth forms, ligatures such as `ﬁ`, the Kelvin sign)
 *    become their plain letters, and composed and decomposed accents become one form.
 * 2. toLowerCase(): case folding. It is locale-independent (never the Turkish rules of
 *    toLocaleLowerCase), and lowers `Σ` at the end of a word to `ς` as Greek writes it. It is
 *    simple lower-casing, not Unicode's full case folding: `ß` stays `ß` (full folding makes
 *    `ss`), so `straße` and `strasse` remain two names, as they are two spellings.
 * 3. NFKC again: lower-casing can leave a string that is no longer normalised (`İ` lowers to `i`
 *    plus a combining dot above), and stored names must be in one form. A test checks, over every
 *    code point and random strings, that the result is stable: normalising twice changes nothing.
 * 4. Trim: NFKC turns the ideographic space and other wide spaces into plain ones.
 *
 * Callers check the result (length, form of an email); the function itself accepts any string.
 */
export function normalizeUserName(raw: string): string {
  return raw.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
}
