import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Every local server binds here and nowhere else. */
export const LOCAL_HOST = '127.0.0.1';

/** Counts requests per operation name (for example `UpdateItem`, `GetParameter`, `GetObject`). */
export class CallCounter {
  private readonly counts = new Map<string, number>();

  public record(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }

  /** Calls of one operation so far (0 when never called). */
  public get(operation: string): number {
    return this.counts.get(operation) ?? 0;
  }

  public total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  public reset(): void {
    this.counts.clear();
  }

  /** A plain copy, safe to keep while more calls arrive. */
  public snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/**
 * - `hang`: accept the request and never answer (the socket stays open until close()).
 * - `error`: answer the service's InternalServerError / InternalError (500 unless `status`).
 * - `throttle`: answer the service's throttling error (DynamoDB/SSM 400, S3 503 SlowDown).
 * - `delay`: wait `delayMs`, then serve normally.
 * - `reset`: destroy the connection without an answer (ECONNRESET on the client).
 */
export type FaultMode = 'hang' | 'error' | 'throttle' | 'delay' | 'reset';

export interface FaultSpec {
  readonly mode: FaultMode;
  /** Latency added by `delay` (default 1000 ms). */
  readonly delayMs?: number;
  /** Status code for `error` / `throttle`, replacing the service's usual one. */
  readonly status?: number;
  /** Error code for `error` / `throttle`, replacing the service's usual one. */
  readonly code?: string;
  /** Only requests for these operations are affected; all requests when omitted. */
  readonly operations?: readonly string[];
  /** Affect only the next N matching requests, then clear itself (retry tests). */
  readonly times?: number;
}

/** A switchable fault applied to a server's requests before they are served. */
export class FaultInjector {
  private spec: FaultSpec | undefined;
  private remaining: number | undefined;

  public set(spec: FaultSpec): void {
    if (spec.times !== undefined && (!Number.isInteger(spec.times) || spec.times < 1)) {
      throw new Error(`FaultSpec.times must be a positive integer, got ${spec.times}`);
    }
    if (spec.delayMs !== undefined && !(spec.delayMs >= 0)) {
      throw new Error(`FaultSpec.delayMs must be >= 0, got ${spec.delayMs}`);
    }
    this.spec = { ...spec };
    this.remaining = spec.times;
  }

  public clear(): void {
    this.spec = undefined;
    this.remaining = undefined;
  }

  public get active(): FaultSpec | undefined {
    return this.spec;
  }

  /** The fault for this request, if any; consumes one use of a `times`-limited fault. */
  public take(operation: string): FaultSpec | undefined {
    const spec = this.spec;
    if (!spec) return undefined;
    if (spec.operations && !spec.operations.includes(operation)) return undefined;
    if (this.remaining !== undefined) {
      this.remaining -= 1;
      if (this.remaining <= 0) this.clear();
    }
    return spec;
  }
}

/**
 * Tracks a server's sockets and timers so close() can end everything, including
 * hung requests and idle keep-alive connections (otherwise jest sees open handles).
 */
export class Lifecycle {
  private readonly sockets = new Set<Socket>();
  private readonly sleepers = new Map<NodeJS.Timeout, () => void>();
  private closedFlag = false;

  public get closed(): boolean {
    return this.closedFlag;
  }

  public track(server: Server): void {
    server.on('connection', (socket: Socket) => {
      if (this.closedFlag) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Resolves after `ms`, or early when the server closes. */
  public sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepers.delete(timer);
        resolve();
      }, ms);
      this.sleepers.set(timer, resolve);
    });
  }

  /** Marks the server closed, wakes sleepers and destroys every open socket. */
  public shutdown(): void {
    this.closedFlag = true;
    for (const [timer, wake] of this.sleepers) {
      clearTimeout(timer);
      wake();
    }
    this.sleepers.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/** Listens on 127.0.0.1 with an OS-chosen port and resolves the port. */
export function listenLocal(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(0, LOCAL_HOST, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, destroys open sockets (hung or keep-alive) and waits for the close. */
export function closeServer(server: Server, life: Lifecycle): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      life.shutdown();
      resolve();
      return;
    }
    server.close((err) => (err ? reject(err) : resolve()));
    life.shutdown();
  });
}

/** Reads a whole request body, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError(limit));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

export class BodyTooLargeError extends Error {
  constructor(public readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** How one service answers the `error` and `throttle` faults. */
export interface FaultResponder {
  error(status: number | undefined, code: string | undefined): void;
  throttle(status: number | undefined, code: string | undefined): void;
}

/**
 * Applies a fault to a request. Resolves true when the fault took the request over
 * (answered, hung or reset it), false when the request should now be served.
 */
export async function applyFault(
  fault: FaultSpec | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  life: Lifecycle,
  responder: FaultResponder,
): Promise<boolean> {
  if (!fault) return false;
  switch (fault.mode) {
    case 'delay':
      await life.sleep(fault.delayMs ?? 1000);
      // The server may have closed (and destroyed the socket) while we slept.
      return life.closed || res.destroyed;
    case 'hang':
      // Drain the body so the client finishes sending and waits for an answer that never comes.
      req.resume();
      return true;
    case 'reset':
      req.socket.destroy();
      return true;
    case 'error':
      responder.error(fault.status, fault.code);
      return true;
    case 'throttle':
      responder.throttle(fault.status, fault.code);
      return true;
  }
}

/** Hop-by-hop headers a proxy must not forward (RFC 9110 7.6.1). */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
