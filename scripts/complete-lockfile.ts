/**
 * Biome ships one optional package per platform. A registry that serves only some of them (as
 * the mirror on our build machines does) leaves the others out of package-lock.json, and then
 * `npm ci` refuses the lock as out of sync. This adds the missing entries with their os/cpu
 * fields, so npm skips them as incompatible without fetching anything. Run it after
 * `npm install` changes the lock: `node scripts/complete-lockfile.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';

type Entry = Record<string, unknown>;
const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, Entry> };
const biome = lock.packages['node_modules/@biomejs/biome'];
const optional = (biome?.optionalDependencies ?? {}) as Record<string, string>;
const PLATFORMS: Record<string, [string, string, string?]> = {
  'android-arm64': ['android', 'arm64'],
  'android-x64': ['android', 'x64'],
  'darwin-arm64': ['darwin', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'linux-arm64': ['linux', 'arm64', 'glibc'],
  'linux-arm64-musl': ['linux', 'arm64', 'musl'],
  'linux-x64': ['linux', 'x64', 'glibc'],
  'linux-x64-musl': ['linux', 'x64', 'musl'],
  'win32-arm64': ['win32', 'arm64'],
  'win32-x64': ['win32', 'x64'],
};
let added = 0;
for (const [name, version] of Object.entries(optional)) {
  const key = `node_modules/${name}`;
  const platform = PLATFORMS[name.replace('@biomejs/cli-', '')];
  if (lock.packages[key] || !platform) continue;
  const [os, cpu, libc] = platform;
  lock.packages[key] = {
    version,
    cpu: [cpu],
    dev: true,
    license: 'MIT OR Apache-2.0',
    optional: true,
    os: [os],
    ...(libc && { libc: [libc] }),
    engines: { node: '>=14.21.3' },
  };
  added++;
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`package-lock.json: added ${added} platform entries\n`);
