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
 * Faults applied before the request is served (the emulated service never sees it, or sees it late):
 * - `hang`: accept the request and never answer (the socket stays open until close()).
 * - `error`: answer the service's InternalServerError / InternalError (500 unless `status`).
 * - `throttle`: answer the service's throttling error (DynamoDB/SSM 400, S3 503 SlowDown).
 * - `delay`: wait `delayMs`, then serve normally.
 * - `reset`: destroy the connection without an answer (ECONNRESET on the client).
 *
 * Faults applied after the request is served ({@link PostServeFaultMode}): the service has
 * executed (committed) the request, then its answer is lost or late.
 * - `commit-then-reset`: serve the request, then destroy the connection instead of answering
 *   (the client sees ECONNRESET / socket hang up although the write happened).
 * - `commit-then-delay`: serve the request, then hold the answer `delayMs` before sending it
 *   (a client whose request timeout is shorter gives up, and may retry, after the commit).
 *
 * Only servers whose FaultInjector was built with `{ postServe: true }` accept the
 * post-serve modes (the local DynamoDB); the others refuse them in FaultInjector.set().
 */
export type FaultMode = PreServeFaultMode | PostServeFaultMode;

/** Faults that take the request over before it is served. */
export type PreServeFaultMode = 'hang' | 'error' | 'throttle' | 'delay' | 'reset';

/** Faults that act on the answer after the request was served (committed). */
export type PostServeFaultMode = 'commit-then-reset' | 'commit-then-delay';

export const PRE_SERVE_FAULT_MODES: readonly PreServeFaultMode[] = ['hang', 'error', 'throttle', 'delay', 'reset'];
export const POST_SERVE_FAULT_MODES: readonly PostServeFaultMode[] = ['commit-then-reset', 'commit-then-delay'];

/** True for the modes that act after the request was served (`commit-then-*`). */
export function isPostServeFault(mode: FaultMode | undefined): mode is PostServeFaultMode {
  return mode !== undefined && (POST_SERVE_FAULT_MODES as readonly string[]).includes(mode);
}

export interface FaultSpec {
  readonly mode: FaultMode;
  /** Latency added by `delay`, or answer hold time of `commit-then-delay` (default 1000 ms). */
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

export interface FaultInjectorOptions {
  /**
   * The server applies the post-serve modes (`commit-then-reset`, `commit-then-delay`).
   * Default false: set() refuses them, so a test cannot believe it injected a fault that
   * the server silently ignores.
   */
  readonly postServe?: boolean;
}

/** A switchable fault applied to a server's requests (before or, for `commit-then-*`, after serving). */
export class FaultInjector {
  private spec: FaultSpec | undefined;
  private remaining: number | undefined;
  private readonly postServe: boolean;

  constructor(options: FaultInjectorOptions = {}) {
    this.postServe = options.postServe ?? false;
  }

  /** Whether this server supports the post-serve modes (`commit-then-*`). */
  public get supportsPostServe(): boolean {
    return this.postServe;
  }

  public set(spec: FaultSpec): void {
    const known: readonly string[] = [...PRE_SERVE_FAULT_MODES, ...POST_SERVE_FAULT_MODES];
    if (!known.includes(spec.mode)) {
      throw new Error(`FaultSpec.mode must be one of ${known.join(', ')}, got ${String(spec.mode)}`);
    }
    if (isPostServeFault(spec.mode) && !this.postServe) {
      throw new Error(`FaultSpec.mode '${spec.mode}' is not supported by this server: `
        + 'only the local DynamoDB applies faults after serving a request');
    }
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
 * Applies a pre-serve fault to a request. Resolves true when the fault took the request over
 * (answered, hung or reset it), false when the request should now be served. The post-serve
 * modes (`commit-then-*`) resolve false here: the server serves the request and then hands
 * its answer to {@link deliverServed}.
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
    case 'commit-then-reset':
    case 'commit-then-delay':
      return false;
  }
}

/**
 * Delivers the answer of a request that has been served, applying a post-serve fault:
 * `commit-then-reset` destroys the connection instead of calling `send`; `commit-then-delay`
 * holds the answer `delayMs` (default 1000) and then sends it, unless the client went away or
 * the server closed meanwhile. Any other fault (or none) sends at once.
 */
export async function deliverServed(
  fault: FaultSpec | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  life: Lifecycle,
  send: () => void,
): Promise<void> {
  if (fault?.mode === 'commit-then-reset') {
    req.socket.destroy();
    return;
  }
  if (fault?.mode === 'commit-then-delay') {
    await life.sleep(fault.delayMs ?? 1000);
  }
  if (life.closed || res.destroyed || req.socket.destroyed) return;
  send();
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
