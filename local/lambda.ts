// A regional Lambda function as the local deployment runs it. Each container loads the
// bundle afresh (its own settings, clients and caches) with its execution role's session in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, as Lambda hands them
// (Lambda Developer Guide, "Defined runtime environment variables",
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
// Lambda does not tell the function when that session ends (there is no expiration
// variable), and a container never outlives its credentials: it is retired before its
// session ends and the next request starts a new one. (The variables are the process's, so
// the events bundle loaded in the same process reads whichever session is current: harmless,
// since it calls only EventBridge, which verifies no signature locally. The edge function runs
// in containers of its own, with their own environment: local/edge-container.ts.)
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalIdentities } from './servers';

export interface LocalLambdaOptions {
  /** The handler bundle (CommonJS, exports `handler`). */
  readonly bundle: string;
  /** Where containers' copies of the bundle go. */
  readonly dir: string;
  readonly name: string;
  readonly identities: LocalIdentities;
  /** The execution role. */
  readonly roleArn: string;
  /** Lifetime of each container's role session, in seconds. */
  readonly sessionSeconds: number;
}

interface Container<H> {
  readonly handler: H;
  readonly sessionEndsAt: number;
  /** The container's copy of the bundle. */
  readonly file: string;
}

/**
 * How long before its session ends a container is retired: a minute, or a quarter of the
 * session when sessions are shorter (tests compress the clock). Shared with local/edge-container.ts.
 */
export function containerRetireBeforeMs(sessionSeconds: number): number {
  return Math.min(60_000, (sessionSeconds * 1000) / 4);
}

export class LocalLambdaFunction<H extends (...args: never[]) => unknown> {
  private current: Container<H> | undefined;
  private started = 0;

  /** Invokes the function in a container whose credentials are still good. */
  public readonly handler = ((...args: Parameters<H>) => this.container().handler(...args)) as unknown as H;

  constructor(private readonly opts: LocalLambdaOptions) {}

  /** Containers started so far. */
  public get containers(): number {
    return this.started;
  }

  /** A deployment changed the function's configuration: the next request starts a new container. */
  public redeploy(): void {
    this.retire(this.current);
    this.current = undefined;
  }

  private container(): Container<H> {
    if (this.current && this.current.sessionEndsAt - Date.now() > containerRetireBeforeMs(this.opts.sessionSeconds)) return this.current;
    this.retire(this.current);
    const session = this.opts.identities.createSession(this.opts.roleArn, this.opts.sessionSeconds);
    // The SDK's environment provider reads these when a container's clients first need credentials.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: session.accessKeyId,
      AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
      AWS_SESSION_TOKEN: session.sessionToken,
    });
    delete process.env.AWS_CREDENTIAL_EXPIRATION;
    const file = join(this.opts.dir, `${this.opts.name}-${++this.started}.js`);
    copyFileSync(this.opts.bundle, file);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require(file) as { handler: H };
    this.current = { handler, sessionEndsAt: session.sessionEndsAt, file };
    return this.current;
  }

  /** Lets a retired container go: requests it still serves finish, and nothing keeps it loaded. */
  private retire(container: Container<H> | undefined): void {
    if (!container) return;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    delete require.cache[require.resolve(container.file)];
    rmSync(container.file, { force: true });
  }
}
