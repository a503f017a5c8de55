// A Lambda@Edge function as the local deployment runs it, each "container" a worker thread
// with its own environment. Lambda gives every function its execution role's session in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (Lambda Developer Guide,
// "Defined runtime environment variables",
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
// and those belong to that function alone. process.env is one per process, so local/lambda.ts
// (which sets them in process.env) cannot keep two functions' sessions apart; a Worker created
// with its own `env` gets a private copy of process.env, so the edge function reads its own
// role's session and nothing else's, and the main process's environment is never touched.
//
// As in local/lambda.ts, Lambda does not tell a function when its session ends, and a
// container never outlives its credentials: it is retired (no new calls; terminated once its
// calls in flight have finished) min(60 s, session / 4) before its session ends, and the
// next call starts a new container with a new session.
//
// A handler's error rejects its call (CloudFront answers 503 when the function fails:
// "HTTP 503 status code (Lambda execution error)" in the CloudFront Developer Guide), and so
// does a container that dies or fails to load its bundle.
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { containerRetireBeforeMs } from './lambda';
import type { LocalIdentities } from './servers';

export interface LocalEdgeFunctionOptions {
  /** The handler bundle (CommonJS, `exports.handler`). */
  readonly bundle: string;
  /**
   * Files staged beside the bundle, copied into every container's folder (the handler reads
   * them from `__dirname`). @default `config.json` beside the bundle, when there is one
   */
  readonly files?: readonly string[];
  /** Where containers' folders go (one sub-folder per container). */
  readonly dir: string;
  readonly name: string;
  readonly identities: LocalIdentities;
  /** The function's execution role. */
  readonly roleArn: string;
  /** Lifetime of each container's role session, in seconds. */
  readonly sessionSeconds: number;
  /**
   * The rest of the function's environment (AWS_REGION, AWS_ENDPOINT_URL_*, ...), read when
   * each container starts; its AWS_* credential variables are replaced by the container's
   * session. @default process.env at that moment
   */
  readonly env?: () => Readonly<Record<string, string | undefined>>;
  /**
   * What the function writes to stdout itself (not through console), as Lambda captures it
   * into the function's log: embedded metric format records, for one. @default printed on this process's stdout
   */
  readonly onStdout?: (text: string) => void;
}

interface Call {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

interface Container {
  readonly worker: Worker;
  readonly sessionEndsAt: number;
  readonly folder: string;
  readonly calls: Map<number, Call>;
  retired: boolean;
  dead: boolean;
}

/** What the worker posts back for one call. */
type Reply = { id: number; value: unknown } | { id: number; error: { name: string; message: string } };

// The container's runtime: loads the bundle once, then runs one handler call per message.
// The answer crosses as JSON, as Lambda passes a function's result.
const RUNTIME = `
const { parentPort, workerData } = require('node:worker_threads');
const { format } = require('node:util');
// What the function prints goes to the function's log (CloudWatch Logs in AWS): here, the
// main process's console, in order with the answers, so tests can read it.
for (const level of ['log', 'info', 'warn', 'error']) {
  console[level] = (...args) => parentPort.postMessage({ log: level, line: format(...args) });
}
// Writes to stdout itself too (embedded metric format records), in order with the rest.
process.stdout.write = (chunk, encoding, callback) => {
  parentPort.postMessage({ stdout: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString() });
  const done = typeof encoding === 'function' ? encoding : callback;
  if (done) queueMicrotask(() => done());
  return true;
};
const { handler } = require(workerData.bundle);
parentPort.on('message', ({ id, event }) => {
  Promise.resolve()
    .then(() => handler(event))
    .then(
      (value) => parentPort.postMessage({ id, value: value === undefined ? undefined : JSON.parse(JSON.stringify(value)) }),
      (err) => parentPort.postMessage({ id, error: { name: String(err && err.name || 'Error'), message: String(err && err.message || err) } }),
    );
});
`;

export class LocalEdgeFunction<E = unknown, R = unknown> {
  private current: Container | undefined;
  private readonly all = new Set<Container>();
  private started = 0;
  private nextId = 0;

  /** Invokes the function (as CloudFront does, with the event alone) in a container whose session is still good. */
  public readonly handler: (event: E) => Promise<R>;

  constructor(private readonly opts: LocalEdgeFunctionOptions) {
    this.handler = (event) => this.invoke(event);
  }

  /** Containers started so far (each with a new role session). */
  public get containers(): number {
    return this.started;
  }

  /** Containers whose worker is still running (the current one and retired ones finishing calls). */
  public get running(): number {
    return this.all.size;
  }

  public invoke(event: E): Promise<R> {
    const container = this.container();
    const id = ++this.nextId;
    return new Promise<R>((resolve, reject) => {
      container.calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
      container.worker.postMessage({ id, event });
    });
  }

  /** A deployment changed the function: the next call starts a new container. */
  public redeploy(): void {
    if (this.current) this.retire(this.current);
    this.current = undefined;
  }

  /** Terminates every container; calls in flight are rejected. */
  public async close(): Promise<void> {
    this.current = undefined;
    await Promise.all([...this.all].map(async (c) => {
      this.fail(c, new Error(`${this.opts.name}: closed`));
      await c.worker.terminate();
    }));
  }

  private container(): Container {
    const c = this.current;
    if (c && !c.dead && c.sessionEndsAt - Date.now() > containerRetireBeforeMs(this.opts.sessionSeconds)) return c;
    if (c) this.retire(c);
    const session = this.opts.identities.createSession(this.opts.roleArn, this.opts.sessionSeconds);
    const folder = join(this.opts.dir, `${this.opts.name}-${++this.started}`);
    mkdirSync(folder, { recursive: true });
    const bundle = join(folder, 'index.js');
    copyFileSync(this.opts.bundle, bundle);
    const staged = join(dirname(this.opts.bundle), 'config.json');
    for (const file of this.opts.files ?? (existsSync(staged) ? [staged] : [])) copyFileSync(file, join(folder, basename(file)));

    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.opts.env ? this.opts.env() : process.env)) {
      if (value !== undefined) env[name] = value;
    }
    delete env.AWS_CREDENTIAL_EXPIRATION;
    delete env.AWS_PROFILE;
    Object.assign(env, {
      AWS_ACCESS_KEY_ID: session.accessKeyId,
      AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
      AWS_SESSION_TOKEN: session.sessionToken,
    });
    const worker = new Worker(RUNTIME, { eval: true, env, workerData: { bundle } });
    const container: Container = { worker, sessionEndsAt: session.sessionEndsAt, folder, calls: new Map(), retired: false, dead: false };
    worker.on('message', (reply: Reply | { log: 'log' | 'info' | 'warn' | 'error'; line: string } | { stdout: string }) => {
      if ('log' in reply) {
        console[reply.log](reply.line);
        return;
      }
      if ('stdout' in reply) {
        if (this.opts.onStdout) this.opts.onStdout(reply.stdout);
        else process.stdout.write(reply.stdout);
        return;
      }
      const call = container.calls.get(reply.id);
      if (!call) return;
      container.calls.delete(reply.id);
      if ('error' in reply) {
        const err = new Error(reply.error.message);
        err.name = reply.error.name;
        call.reject(err);
      } else {
        call.resolve(reply.value);
      }
      if (container.retired && container.calls.size === 0) void this.terminate(container);
    });
    // A bundle that fails to load, or a container that crashes, fails its calls in flight.
    worker.on('error', (err) => this.fail(container, err));
    worker.on('exit', (code) => {
      this.fail(container, new Error(`${this.opts.name}: container exited with code ${code}`));
      this.all.delete(container);
      rmSync(folder, { recursive: true, force: true });
    });
    this.all.add(container);
    this.current = container;
    return container;
  }

  /** No new calls go to the container; it ends once its calls in flight have finished. */
  private retire(container: Container): void {
    container.retired = true;
    if (container.calls.size === 0) void this.terminate(container);
  }

  private async terminate(container: Container): Promise<void> {
    container.dead = true;
    await container.worker.terminate();
  }

  private fail(container: Container, err: Error): void {
    container.dead = true;
    if (this.current === container) this.current = undefined;
    for (const call of container.calls.values()) call.reject(err);
    container.calls.clear();
  }
}
