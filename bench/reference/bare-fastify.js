// The floor under the idle-RSS and ready rows of `npm run bench -- http`: Fastify answering
// /healthz and nothing else, in plain JavaScript (no types to strip), which the benchmark starts
// as deploy/ starts Keygate (the same memory settings) and with a compile cache of its own.
// Run: node bare-fastify.js PORT.
import Fastify from 'fastify';

const app = Fastify();
app.get('/healthz', async () => ({ ok: true }));
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
