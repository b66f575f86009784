import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { type Fixture, fixture } from '../helpers.ts';

export interface Served {
  fixture: Fixture;
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every answer the server gave: method, path, status and reason code. */
  answers: { method: string; path: string; status: number; code?: string }[];
  close(): Promise<void>;
}

/**
 * A real Keygate listening on a port, on the fixture's frozen clock (1,800,000,000 s). Its `Date`
 * header tells that same time, as a server whose clock is right does; tests move the client's
 * clock instead.
 */
export async function serveKeygate(options: Parameters<typeof fixture>[0] = {}): Promise<Served> {
  const f = await fixture(options);
  const app = await buildApp(f.keygate);
  const answers: Served['answers'] = [];
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('date', new Date(f.now.value * 1000).toUTCString());
    const code =
      reply.statusCode >= 400 && typeof payload === 'string'
        ? (JSON.parse(payload) as { error?: { code?: string } }).error?.code
        : undefined;
    answers.push({
      method: request.method,
      path: request.url,
      status: reply.statusCode,
      ...(code !== undefined && { code }),
    });
    return payload;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return {
    fixture: f,
    app,
    url: `http://127.0.0.1:${port}`,
    answers,
    close: async () => {
      await app.close();
      await f.close();
    },
  };
}

/** The payload of a compact JWS, parsed. */
export function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
    string,
    unknown
  >;
}
