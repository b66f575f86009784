import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Reported in every response's debug_info, so a client can tell which build answered. */
export const VERSION = `keygate.${pkg.version}`;
export const PACKAGE_VERSION = pkg.version;
