import type { FastifyRequest, FastifyServerOptions } from 'fastify';

/**
 * A request as the log shows it: the path with any query replaced by `?***`. A query can hold a
 * credential (refused, but only after the request line is logged), and even its parameter names
 * can be one (`/v1/whoami?eyJ...`), so none of it is written.
 */
export function requestForLog(request: FastifyRequest) {
  const query = request.url.indexOf('?');
  return {
    method: request.method,
    url: query === -1 ? request.url : `${request.url.slice(0, query)}?***`,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** The caller's logger options with the request serializer above, which no caller can replace. */
export function withSafeSerializers(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return false;
  const options = logger === true ? {} : logger;
  return { ...options, serializers: { ...options.serializers, req: requestForLog } };
}
