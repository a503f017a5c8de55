// Bounded SDK transport shared by both handlers.
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface TransportLimits {
  /** TCP + TLS connect, in ms. The SDK starts this clock when the request is created. */
  readonly connectionTimeoutMs: number;
  /** Time to the response, in ms. */
  readonly requestTimeoutMs: number;
}

/**
 * Keep-alive agents with a pool large enough that a burst of concurrent calls
 * never queues for a socket: queued time counts against the SDK's connection
 * timeout and would turn a burst into spurious timeouts.
 */
export function boundedHttpHandler(limits: TransportLimits): NodeHttpHandler {
  const agent = { keepAlive: true, maxSockets: 512 };
  return new NodeHttpHandler({
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    throwOnRequestTimeout: true,
    httpAgent: agent,
    httpsAgent: agent,
  });
}
