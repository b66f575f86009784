import type { FastifyInstance, FastifyReply, onSendHookHandler } from 'fastify';
import { TurnBatch } from '../service/turn-end.ts';

type Send = Parameters<onSendHookHandler>[3];

/**
 * Holds every answer made during one turn of the event loop and writes them all at its end, after
 * the replay ledger's commit for the turn (service/turn-end.ts), instead of each the moment it is
 * made.
 *
 * Why: a write to a socket wakes the client waiting on it. Answered one at a time, a client
 * on the other core wakes for one answer, sends its next request and sleeps again before the
 * next answer is written, so every answer pays a wake-up, which on a virtual machine is an
 * interrupt between cores: the profile put half of the server's CPU per 401 in the socket write,
 * twice what it cost when the client was busy anyway. Written together, the client wakes once
 * for the lot. An answer waits at most for the rest of its turn's requests, which are already
 * read and being handled; a lone request goes out in the same turn as before.
 */
export function writeAtTurnEnd(app: FastifyInstance): void {
  const answers = new TurnBatch<{ reply: FastifyReply; send: Send; payload: unknown }>('write', (due) => {
    for (const { reply, send, payload } of due) {
      try {
        send(null, payload);
      } catch (error) {
        // Written one at a time, a fault here (Node refusing a header, say) would have been this
        // request's alone; held together, it must not cost the turn's other answers. The
        // connection is closed: a client left waiting would wait until its own timeout.
        reply.log.error({ err: error }, 'answer could not be written');
        reply.raw.destroy();
      }
    }
  });
  app.addHook('onSend', (_request, reply, payload, send) => answers.add({ reply, send, payload }));
}
