// The edge function's local "container" (local/edge-container.ts): a worker thread with the
// function's own role session in its environment, as Lambda hands it ("Defined runtime
// environment variables", Lambda Developer Guide), retired before that session ends.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEdgeFunction } from '../local/edge-container';
import { LocalIdentities } from '../local/servers';

interface Seen {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly endpoint: string;
  readonly config: unknown;
  readonly event: unknown;
}

// Reports its credentials, endpoint and staged config.json after sleeping event.sleepMs; throws on event.fail.
const BUNDLE = `
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const config = JSON.parse(readFileSync(join(__dirname, 'config.json'), 'utf8'));
exports.handler = async (event) => {
  if (event.fail) throw new TypeError('boom');
  await new Promise((resolve) => setTimeout(resolve, event.sleepMs || 0));
  return {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    sessionToken: process.env.AWS_SESSION_TOKEN,
    endpoint: process.env.AWS_ENDPOINT_URL_S3,
    config,
    event,
  };
};
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('LocalEdgeFunction', () => {
  let dir: string;
  let identities: LocalIdentities;
  let roleArn: string;
  const fns: Array<LocalEdgeFunction<Record<string, unknown>, Seen>> = [];
  const start = (sessionSeconds: number, name = 'edge') => {
    const fn = new LocalEdgeFunction<Record<string, unknown>, Seen>({
      bundle: join(dir, 'staged', 'index.js'),
      dir: join(dir, 'containers'),
      name,
      identities,
      roleArn,
      sessionSeconds,
      env: () => ({ ...process.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' }),
    });
    fns.push(fn);
    return fn;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edge-container-test-'));
    const staged = join(dir, 'staged');
    mkdirSync(staged);
    writeFileSync(join(staged, 'index.js'), BUNDLE);
    writeFileSync(join(staged, 'config.json'), JSON.stringify({ tableName: 'ledger' }));
    identities = new LocalIdentities();
    roleArn = identities.createRole('otp-local-edge', { readPrefixes: [] });
  });

  afterEach(async () => {
    for (const fn of fns.splice(0)) await fn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a container reads its own role session from its environment; the main process env is untouched', async () => {
    const before = { ...process.env };
    const fn = start(3600);
    const seen = await Promise.all(Array.from({ length: 20 }, (_, i) => fn.handler({ i, sleepMs: 50 + (i % 5) * 20 })));
    expect(fn.containers).toBe(1);
    // Many calls in flight on one worker, each answered with its own event.
    expect(seen.map((s) => (s.event as { i: number }).i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const key = seen[0].accessKeyId;
    expect(new Set(seen.map((s) => s.accessKeyId))).toEqual(new Set([key]));
    expect(key).toMatch(/^ASIA/);
    const session = identities.find(key)!;
    expect(session.principalArn).toBe(roleArn);
    expect(seen[0].secretAccessKey).toBe(session.secretAccessKey);
    expect(seen[0].sessionToken).toBe(session.sessionToken);
    expect(seen[0].endpoint).toBe('http://127.0.0.1:9');
    expect(seen[0].config).toEqual({ tableName: 'ledger' });
    expect(process.env).toEqual(before);
    expect(process.env.AWS_ACCESS_KEY_ID).not.toBe(key);
  });

  test('two functions (two containers) see different sessions', async () => {
    const [a, b] = await Promise.all([start(3600, 'a').handler({}), start(3600, 'b').handler({})]);
    expect(a.accessKeyId).not.toBe(b.accessKeyId);
    expect(a.sessionToken).not.toBe(b.sessionToken);
  });

  test('a container is retired before its session ends (after its calls finish) and the next call gets a new session', async () => {
    // A 4 s session: the container is retired 1 s before it ends.
    const fn = start(4);
    const first = await fn.handler({});
    const firstSession = identities.find(first.accessKeyId)!;
    await sleep(2000);
    // Still within the container's life: same session; this call outlives the retirement.
    const slow = fn.handler({ sleepMs: 1500 });
    await sleep(1100);
    const second = await fn.handler({});
    expect(second.accessKeyId).not.toBe(first.accessKeyId);
    expect(fn.containers).toBe(2);
    expect(fn.running).toBe(2);
    // The retired container finished its call, with its own session, before that session ended.
    expect((await slow).accessKeyId).toBe(first.accessKeyId);
    expect(Date.now()).toBeLessThan(firstSession.sessionEndsAt!);
    await sleep(100);
    expect(fn.running).toBe(1);
    expect(identities.find(second.accessKeyId)!.sessionEndsAt).toBeGreaterThan(firstSession.sessionEndsAt!);
  });

  test('a handler error rejects its call only; the container keeps serving', async () => {
    const fn = start(3600);
    const failing = fn.handler({ fail: true });
    const ok = fn.handler({ sleepMs: 20 });
    await expect(failing).rejects.toThrow('boom');
    await expect(failing).rejects.toMatchObject({ name: 'TypeError' });
    await expect(ok).resolves.toMatchObject({ event: { sleepMs: 20 } });
    expect(fn.containers).toBe(1);
  });

  test('a bundle that fails to load rejects the call (CloudFront answers 503)', async () => {
    writeFileSync(join(dir, 'staged', 'index.js'), 'throw new Error("init failed");');
    const fn = start(3600);
    await expect(fn.handler({})).rejects.toThrow('init failed');
  });
});
