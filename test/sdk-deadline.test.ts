// The edge's per-call deadline (src/handlers/sdk.ts): carried on the input so the client keeps
// its cached middleware, it bounds a call's attempts and retries as the SDK's abortSignal did.
// Against the local DynamoDB, with its faults.
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoDB, type LocalDynamoDB } from '../local/servers';
import { rejection } from './util/rejection';
import { boundedHttpHandler, byDeadline, deadlines } from '../src/handlers/sdk';

let ddb: LocalDynamoDB;
let client: DynamoDBClient;
/** A fresh input per call: byDeadline marks the input itself. */
const get = () => ({ TableName: 'links', Key: { id: { S: 'l1' } } });

beforeAll(async () => {
  ddb = await startDynamoDB({ tables: [{ name: 'links', hashKey: 'id' }] });
  // The edge's ledger client (src/handlers/edge.ts ledgerClient).
  client = new DynamoDBClient({
    endpoint: ddb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
    cacheMiddleware: true,
    requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1500 }),
  });
  client.middlewareStack.use(deadlines);
  await client.send(new PutItemCommand({ TableName: 'links', Item: { id: { S: 'l1' }, n: { N: '0' } } }));
});
afterAll(async () => {
  client?.destroy();
  await ddb?.close();
});
afterEach(() => ddb.fault.clear());

describe('a call made with byDeadline', () => {
  it('settles normally inside its deadline: reads and conditional writes alike', async () => {
    const out = await client.send(new GetItemCommand(byDeadline(get(), Date.now() + 3000)));
    expect(out.Item?.n?.N).toBe('0');
    const updated = await client.send(new UpdateItemCommand(byDeadline({
      ...get(), UpdateExpression: 'SET n = n + :one', ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValues: 'UPDATED_NEW',
    }, Date.now() + 3000)));
    expect(updated.Attributes?.n?.N).toBe('1');
  });

  it('fails with AbortError when its deadline passes while DynamoDB holds the answer, and is not retried', async () => {
    ddb.fault.set({ mode: 'hang', operations: ['GetItem'] });
    const calls = ddb.calls.get('GetItem');
    const started = Date.now();
    const err = await rejection(client.send(new GetItemCommand(byDeadline(get(), started + 300))));
    const took = Date.now() - started;
    expect(err.name).toBe('AbortError');
    // At the deadline, not at the transport's 1.5 s timeout (generous for a loaded machine).
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1400);
    expect(ddb.calls.get('GetItem') - calls).toBe(1);
  });

  it('sends no attempt once its deadline has passed', async () => {
    const calls = ddb.calls.get('GetItem');
    expect((await rejection(client.send(new GetItemCommand(byDeadline(get(), Date.now() - 1))))).name).toBe('AbortError');
    expect(ddb.calls.get('GetItem')).toBe(calls);
  });

  /** A GetItem whose first attempt is throttled, with the SDK's random backoff drawn as `draw` (its delay is draw x 1 s after a throttle). */
  async function throttledOnce(deadline: number, draw: number): Promise<string> {
    ddb.fault.set({ mode: 'throttle', operations: ['GetItem'], times: 1 });
    const random = jest.spyOn(Math, 'random').mockReturnValue(draw);
    try {
      return await client.send(new GetItemCommand(byDeadline(get(), deadline))).then(() => 'served', (e: Error) => e.name);
    } finally {
      random.mockRestore();
    }
  }

  it('settles by its deadline while a throttled attempt\'s retry waits out a long backoff, and never sends that retry', async () => {
    const calls = ddb.calls.get('GetItem');
    const started = Date.now();
    const deadline = started + 200;
    // A backoff of about 900 ms: the retry would be due long after the deadline.
    expect(await throttledOnce(deadline, 0.9)).toBe('AbortError');
    // At the deadline, not after the backoff (generous for a loaded machine).
    expect(Date.now() - deadline).toBeLessThan(500);
    // Once the backoff is over, the retry is still not sent.
    await new Promise((resolve) => setTimeout(resolve, started + 1400 - Date.now()));
    expect(ddb.calls.get('GetItem') - calls).toBe(1);
  });

  it('retries a throttled attempt whose backoff ends inside the deadline', async () => {
    const calls = ddb.calls.get('GetItem');
    expect(await throttledOnce(Date.now() + 3000, 0)).toBe('served');
    expect(ddb.calls.get('GetItem') - calls).toBe(2);
  });

  it('leaves calls without a deadline to the SDK: a throttled attempt is retried', async () => {
    ddb.fault.set({ mode: 'throttle', operations: ['GetItem'], times: 1 });
    const calls = ddb.calls.get('GetItem');
    const out = await client.send(new GetItemCommand(get()));
    expect(out.Item?.id?.S).toBe('l1');
    expect(ddb.calls.get('GetItem') - calls).toBe(2);
  });
});
