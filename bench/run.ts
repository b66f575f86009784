import { benchHttp } from './http.ts';
import { benchLogin } from './login.ts';
import { benchVerify } from './verify.ts';

/** `npm run bench`: every benchmark, each printing a table of ratios to baselines from the same run. */
process.stdout.write(`Keygate benchmarks, node ${process.version}, ${new Date().toISOString()}\n\n`);
const only = process.argv[2];
const results = [
  only === undefined || only === 'verify' ? await benchVerify() : true,
  only === undefined || only === 'login' ? await benchLogin() : true,
  only === undefined || only === 'http' ? await benchHttp() : true,
];
if (results.some((ok) => !ok)) {
  process.stdout.write('Some targets were missed (see MISSED above).\n');
  process.exitCode = 1;
}
