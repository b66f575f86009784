import { request } from 'node:http';
import { USER } from './fixture.ts';

/**
 * Logs the bench user in `count` times over HTTP, one after another (each login is an argon2id
 * hash on the server, and the hasher refuses what it cannot queue); resolves with the session
 * tokens as Authorization values.
 */
export async function sessionTokens(url: string, count: number): Promise<string[]> {
  const body = JSON.stringify({ user: USER.email, pass_hash: USER.passHash });
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(`Bearer ${await login(`${url}/auth/login`, body)}`);
  return tokens;
}

function login(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json' };
    const req = request(url, { method: 'POST', headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => {
        if (response.statusCode !== 202)
          return reject(new Error(`login answered ${response.statusCode}: ${text}`));
        resolve(
          (JSON.parse(text) as { results: { token: { HY_APP_AUTH_v1: string } } }).results.token
            .HY_APP_AUTH_v1,
        );
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
