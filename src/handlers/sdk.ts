// Bounded SDK transport shared by the handlers, and deadlines for the edge's calls.
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { MetadataBearer, Pluggable } from '@smithy/types';

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

/** Where a call carries its deadline: a symbol-keyed property of its input, which no serializer reads. */
const DEADLINE = Symbol('deadline');

/**
 * Marks `input` as a call's that must settle by `deadline` (epoch ms), retries included, on a
 * client that uses {@link deadlines}, and returns it: it marks the object itself (copying it
 * costs more than the mark), so build one input per call. The SDK's per-call `abortSignal` option
 * would do the same, but a call with options resolves the client's whole middleware stack again
 * (`cacheMiddleware` only serves calls without them), which costs a warm redemption more than
 * all of the edge handler's own work (issue 23's floor, in `npm run bench`).
 */
export function byDeadline<T extends object>(input: T, deadline: number): T {
  (input as { [DEADLINE]?: number })[DEADLINE] = deadline;
  return input;
}

/**
 * Holds a call made with {@link byDeadline} to its deadline, as the SDK's abortSignal does: the
 * call fails with an AbortError (which the retry strategy never retries) when its deadline
 * passes, whether an attempt is in flight or a retry is waiting out its backoff, and no attempt
 * is sent after it. An attempt in flight is not cut off: its HTTP request runs on, unanswered, to
 * the transport's own timeout (a write DynamoDB has received may apply, as after any abort).
 * Plain functions rather than async ones: each call of the hot path passes through both.
 */
export const deadlines: Pluggable<object, MetadataBearer> = {
  applyToStack(stack) {
    // Around the whole call, retries and their backoff included.
    stack.add((next) => (args) => {
      const deadline = deadlineOf(args.input);
      if (deadline === undefined) return next(args);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(budgetSpent()), Math.max(0, deadline - Date.now()));
        next(args).then((out) => {
          clearTimeout(timer);
          resolve(out);
        }, (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    }, { step: 'initialize', priority: 'high', name: 'deadlineMiddleware' });
    // Before each attempt, next to the transport: none goes out once the deadline has passed.
    stack.add((next) => (args) => {
      const deadline = deadlineOf(args.input);
      return deadline !== undefined && Date.now() >= deadline ? Promise.reject(budgetSpent()) : next(args);
    }, { step: 'deserialize', priority: 'low', name: 'deadlineAttemptMiddleware' });
  },
};

const deadlineOf = (input: unknown): number | undefined => (input as { [DEADLINE]?: number })[DEADLINE];
const budgetSpent = () => Object.assign(new Error('the call\'s deadline passed'), { name: 'AbortError' });
