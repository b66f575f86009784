// Builds src/core/common-passwords.txt, the passwords Keygate refuses however long they are.
//
//   npm pack @zxcvbn-ts/language-common@4.1.3
//   tar xzf zxcvbn-ts-language-common-4.1.3.tgz package/src/passwords.json
//   node scripts/make-common-passwords.ts package/src/passwords.json > src/core/common-passwords.txt
//
// The input is zxcvbn's password list (MIT, notice in src/core/common-passwords.LICENSE): about
// 49,000 passwords, most common first, that appeared more than ten times in the ten million
// leaked logins xato.net published, lowercased. Shorter passwords are refused by length already,
// so the output holds what is 12 characters or more:
// - the list's own entries of that length;
// - its most common shorter entries with what people add to reach a length rule (a digit run,
//   a recent year, "!"), or typed twice;
// - keyboard walks, sequences and repeats, which zxcvbn leaves out of its list because its
//   pattern matchers catch them ("qwertyuiopas", "111111111111").
// The output is lowercase NFKC, one per line, sorted, as src/core/password-policy.ts reads it.
import { readFileSync } from 'node:fs';
import { MIN_PASSWORD_LENGTH, normalizeForList, passwordLength } from '../src/core/password-policy.ts';

const LONGEST_VARIANT = 16;
const TOP = 1000;
const TOP_WITH_YEARS = 300;
const DIGIT_RUNS = ['1', '12', '123', '1234', '12345', '123456', '1234567', '12345678'];
const OTHER_SUFFIXES = ['!', '1!', '12!', '123!', '1234!', '!!', '@123', '01', '007', '69', '000'];
const YEARS = Array.from({ length: 2026 - 1990 + 1 }, (_, i) => String(1990 + i));
const ROWS = ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'abcdefghijklmnopqrstuvwxyz'];
const WALKS = [
  ...ROWS,
  ...ROWS.map((row) => [...row].reverse().join('')),
  'qazwsxedcrfvtgbyhnujmikolp',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p',
  'zaq12wsxcde34rfvbgt56yhnmju78ik,',
  'q1w2e3r4t5y6u7i8o9p0',
  '1q2w3e4r5t6y7u8i9o0p',
  'a1b2c3d4e5f6g7h8i9j0',
  'qweasdzxc',
  'qweasdzxcrtyfghvbn',
  '147258369',
  '159753',
  '741852963',
];

const ranked = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as string[];
const out = new Set<string>();
const add = (candidate: string) => {
  const length = passwordLength(candidate);
  if (length >= MIN_PASSWORD_LENGTH && length <= LONGEST_VARIANT) out.add(normalizeForList(candidate));
};

for (const password of ranked) {
  if (passwordLength(password) >= MIN_PASSWORD_LENGTH) out.add(normalizeForList(password));
}
ranked.slice(0, TOP).forEach((password, rank) => {
  add(password.repeat(Math.ceil(MIN_PASSWORD_LENGTH / password.length)));
  // A word with digits after it is the common shape; digits after digits are a date or a run.
  if (!/[a-z]/.test(password)) return;
  for (const suffix of [...DIGIT_RUNS, ...OTHER_SUFFIXES]) add(password + suffix);
  if (rank < TOP_WITH_YEARS) for (const year of YEARS) add(password + year);
});
for (const walk of WALKS) {
  const long = walk.repeat(3);
  for (let length = MIN_PASSWORD_LENGTH; length <= LONGEST_VARIANT; length++) add(long.slice(0, length));
}
for (const first of ROWS) {
  for (const second of ROWS) {
    if (first === second) continue;
    for (let i = 3; i <= first.length; i++)
      for (let j = 3; j <= second.length; j++) add(first.slice(0, i) + second.slice(0, j));
  }
}
for (const char of 'abcdefghijklmnopqrstuvwxyz0123456789!.') {
  for (let length = MIN_PASSWORD_LENGTH; length <= LONGEST_VARIANT; length++) add(char.repeat(length));
}

process.stdout.write(`${[...out].sort().join('\n')}\n`);
