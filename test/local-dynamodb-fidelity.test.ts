// The local DynamoDB front's fidelity for idempotent conditional writes: the failed write's
// item (ReturnValuesOnConditionCheckFailure) and writes that commit although the answer is
// lost (commit-then-reset) or late (commit-then-delay); and the write units each write costs.
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { FaultInjector, type LocalDynamoDB, startAwsJsonServices, startDynamoDB } from '../local/servers';
import { rejection, type SdkError } from './util/rejection';


let ddb: LocalDynamoDB;
let client: DynamoDBClient;
const clients: DynamoDBClient[] = [];

/** A client against the local DynamoDB; requestTimeout needs throwOnRequestTimeout in @smithy/node-http-handler 4.x. */
function newClient(opts: { maxAttempts?: number; requestTimeout?: number } = {}): DynamoDBClient {
  const c = new DynamoDBClient({
    endpoint: ddb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: opts.maxAttempts ?? 1,
    // The SDK starts connectionTimeout when a request is created, so time queued for one of the
    // pool's sockets counts against it: generous, for the tests that send hundreds at once.
    requestHandler: new NodeHttpHandler({ connectionTimeout: 10_000, requestTimeout: opts.requestTimeout ?? 10_000, throwOnRequestTimeout: true }),
  });
  clients.push(c);
  return c;
}

let nextId = 0;
/** A fresh item id per test, so tests do not depend on each other. */
function freshId(): string {
  nextId += 1;
  return `item-${nextId}`;
}

async function put(id: string, attrs: Record<string, AttributeValue>): Promise<void> {
  await client.send(new PutItemCommand({ TableName: 'links', Item: { id: { S: id }, ...attrs } }));
}

async function get(id: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await client.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: id } }, ConsistentRead: true }))).Item;
}

/** The redemption-style write: `n = n + 1` only while `n < max`. */
function increment(id: string, max: number, extra: Partial<UpdateItemCommandInput> = {}): UpdateItemCommand {
  return new UpdateItemCommand({
    TableName: 'links',
    Key: { id: { S: id } },
    UpdateExpression: 'SET n = n + :one',
    ConditionExpression: 'attribute_exists(id) AND n < :max',
    ExpressionAttributeValues: { ':one': { N: '1' }, ':max': { N: String(max) } },
    ...extra,
  });
}

beforeAll(async () => {
  ddb = await startDynamoDB({ tables: [{ name: 'links', hashKey: 'id' }, { name: 'pairs', hashKey: 'pk', rangeKey: 'sk' }] });
  client = newClient();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await ddb.close();
});

afterEach(() => {
  ddb.fault.clear();
});

describe('ReturnValuesOnConditionCheckFailure', () => {
  test('a conditional UpdateItem failing with ALL_OLD returns the item as it was in err.Item', async () => {
    const id = freshId();
    await put(id, { n: { N: '3' }, owner: { S: 'viewer-1' } });
    const err = await rejection(client.send(increment(id, 3, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect(err.$metadata?.httpStatusCode).toBe(400);
    expect(err.Item).toEqual({ id: { S: id }, n: { N: '3' }, owner: { S: 'viewer-1' } });
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '3' }, owner: { S: 'viewer-1' } });
  });

  test('PutItem and DeleteItem failing with ALL_OLD return the item too, also on a table with a sort key', async () => {
    const item = { pk: { S: 'p' }, sk: { S: freshId() }, v: { N: '1' } };
    await client.send(new PutItemCommand({ TableName: 'pairs', Item: item }));
    const putErr = await rejection(client.send(new PutItemCommand({
      TableName: 'pairs',
      Item: { ...item, v: { N: '2' } },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    })));
    expect(putErr.name).toBe('ConditionalCheckFailedException');
    expect(putErr.Item).toEqual(item);

    const deleteErr = await rejection(client.send(new DeleteItemCommand({
      TableName: 'pairs',
      Key: { pk: item.pk, sk: item.sk },
      ConditionExpression: 'v = :two',
      ExpressionAttributeValues: { ':two': { N: '2' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    })));
    expect(deleteErr.name).toBe('ConditionalCheckFailedException');
    expect(deleteErr.Item).toEqual(item);
  });

  test.each([
    ['without the parameter', {}],
    ['with NONE', { ReturnValuesOnConditionCheckFailure: 'NONE' as const }],
  ])('a failed condition %s carries no Item', async (_name, extra) => {
    const id = freshId();
    await put(id, { n: { N: '1' } });
    const err = await rejection(client.send(increment(id, 1, extra)));
    expect(err.name).toBe('ConditionalCheckFailedException');
    expect(err.Item).toBeUndefined();
  });

  test('a condition failing on a missing item gives no Item, and creates nothing', async () => {
    const id = freshId();
    const err = await rejection(client.send(increment(id, 5, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(err.name).toBe('ConditionalCheckFailedException');
    expect(err.Item).toBeUndefined();
    expect(await get(id)).toBeUndefined();
  });

  test('a write that passes its condition with ALL_OLD answers as usual (ReturnValues still applies)', async () => {
    const id = freshId();
    await put(id, { n: { N: '0' } });
    const out = await client.send(increment(id, 5, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD', ReturnValues: 'ALL_NEW' }));
    expect(out.Attributes).toEqual({ id: { S: id }, n: { N: '1' } });
  });

  test('an invalid value is a ValidationException and writes nothing', async () => {
    const id = freshId();
    await put(id, { n: { N: '0' } });
    ddb.calls.reset();
    const err = await rejection(client.send(increment(id, 5, {
      ReturnValuesOnConditionCheckFailure: 'ALL_NEW' as unknown as 'ALL_OLD',
    })));
    expect(err.name).toBe('ValidationException');
    expect(err.$metadata?.httpStatusCode).toBe(400);
    expect(err.message).toBe("1 validation error detected: Value 'ALL_NEW' at 'returnValuesOnConditionCheckFailure' "
      + 'failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]');
    // A value of the wrong JSON type is a serialization error, also before anything is written.
    const typeErr = await rejection(client.send(increment(id, 5, {
      ReturnValuesOnConditionCheckFailure: 7 as unknown as 'ALL_OLD',
    })));
    expect(typeErr.name).toBe('SerializationException');
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '0' } });
    expect(ddb.calls.get('UpdateItem')).toBe(2);
  });

  test('100 concurrent conditional increments with a limit of 7 give exactly 7 successes; every failure sees n = 7', async () => {
    const id = freshId();
    await put(id, { n: { N: '0' } });
    const attempts = await Promise.allSettled(Array.from({ length: 100 }, () =>
      client.send(increment(id, 7, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }))));
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(7);
    const failures = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected').map((a) => a.reason as SdkError);
    expect(failures).toHaveLength(93);
    for (const failure of failures) {
      expect(failure.name).toBe('ConditionalCheckFailedException');
      // The item the failed condition saw: never a state before the 7th success or after it.
      expect(failure.Item).toEqual({ id: { S: id }, n: { N: '7' } });
    }
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '7' } });
  });

  test('under concurrent writes to the same item, err.Item is always a state that fails the condition', async () => {
    // Writers flip `flag` between a and b; probes write only while flag = a. A probe's err.Item
    // read after a later flip back to a would contradict its own failure.
    const id = freshId();
    await put(id, { flag: { S: 'a' } });
    const ops: Array<Promise<unknown>> = [];
    for (let i = 0; i < 300; i++) {
      if (i % 2 === 0) {
        ops.push(client.send(new UpdateItemCommand({
          TableName: 'links',
          Key: { id: { S: id } },
          UpdateExpression: 'SET flag = :f',
          ExpressionAttributeValues: { ':f': { S: i % 4 === 0 ? 'b' : 'a' } },
        })));
      } else {
        ops.push(client.send(new PutItemCommand({
          TableName: 'links',
          Item: { id: { S: id }, flag: { S: 'a' }, probe: { N: String(i) } },
          ConditionExpression: 'flag = :a',
          ExpressionAttributeValues: { ':a': { S: 'a' } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        })));
      }
    }
    const settled = await Promise.allSettled(ops);
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as SdkError);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect(failure.name).toBe('ConditionalCheckFailedException');
      expect(failure.Item?.flag).toEqual({ S: 'b' });
    }
  });
});

describe('write units: what each write costs, as on-demand DynamoDB charges it', () => {
  /** Write units `op` consumed, and what it answered (or the error it rejected with). */
  async function charged<T>(op: Promise<T>): Promise<[number, T | SdkError]> {
    const before = ddb.writeUnits();
    const result = await op.catch((err: SdkError) => err);
    return [ddb.writeUnits() - before, result];
  }
  // About 2.9 KB: id, its value, `blob` and 2,900 characters.
  const bulky = (id: string) => ({ id: { S: id }, blob: { S: 'x'.repeat(2900) } });

  test('a small PutItem adds 1, an UpdateItem of a ~3 KB item 3, a refused conditional UpdateItem at least 1, a GetItem 0', async () => {
    const small = freshId();
    const [putUnits, putAnswer] = await charged(client.send(new PutItemCommand({ TableName: 'links', Item: { id: { S: small }, n: { N: '1' } } })));
    expect(putUnits).toBe(1);
    expect(putAnswer).not.toHaveProperty('ConsumedCapacity');

    const id = freshId();
    expect((await charged(client.send(new PutItemCommand({ TableName: 'links', Item: bulky(id) }))))[0]).toBe(3);
    const [updateUnits, updated] = await charged(client.send(new UpdateItemCommand({
      TableName: 'links',
      Key: { id: { S: id } },
      UpdateExpression: 'SET n = :one',
      ExpressionAttributeValues: { ':one': { N: '1' } },
      ReturnValues: 'ALL_NEW',
    })));
    // The larger of the item before and after: both about 2.9 KB.
    expect(updateUnits).toBe(3);
    expect(updated).toEqual(expect.objectContaining({ Attributes: { ...bulky(id), n: { N: '1' } } }));
    expect(updated).not.toHaveProperty('ConsumedCapacity');

    // DynamoDB charges a refused write for the item it was evaluated against (at least 1).
    const [refusedUnits, refused] = await charged(client.send(new UpdateItemCommand({
      TableName: 'links',
      Key: { id: { S: id } },
      UpdateExpression: 'SET n = :two',
      ConditionExpression: 'attribute_not_exists(id)',
      ExpressionAttributeValues: { ':two': { N: '2' } },
    })));
    expect(refused).toBeInstanceOf(ConditionalCheckFailedException);
    expect(refusedUnits).toBe(3);
    const [missingUnits, missing] = await charged(client.send(increment(freshId(), 5, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect((missing as SdkError).name).toBe('ConditionalCheckFailedException');
    expect(missingUnits).toBe(1);

    const [getUnits, got] = await charged(client.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: id } }, ConsistentRead: true })));
    expect(getUnits).toBe(0);
    expect(got).toEqual(expect.objectContaining({ Item: { ...bulky(id), n: { N: '1' } } }));

    expect((await charged(client.send(new DeleteItemCommand({ TableName: 'links', Key: { id: { S: id } } }))))[0]).toBe(3);
    const puts = [freshId(), freshId()].map((i) => ({ PutRequest: { Item: { id: { S: i } } } }));
    const batch = new BatchWriteItemCommand({ RequestItems: { links: puts } });
    const [batchUnits, batched] = await charged(client.send(batch));
    expect(batchUnits).toBe(2);
    expect(batched).not.toHaveProperty('ConsumedCapacity');
  });

  test('a caller that asks for ConsumedCapacity gets it, and is counted all the same; NONE gets none', async () => {
    const id = freshId();
    const [units, answer] = await charged(client.send(new PutItemCommand({ TableName: 'links', Item: bulky(id), ReturnConsumedCapacity: 'TOTAL' })));
    expect(units).toBe(3);
    expect(answer).toEqual(expect.objectContaining({ ConsumedCapacity: { TableName: 'links', CapacityUnits: 3 } }));
    const del = new DeleteItemCommand({ TableName: 'links', Key: { id: { S: id } }, ReturnConsumedCapacity: 'NONE' });
    const [noneUnits, none] = await charged(client.send(del));
    expect(noneUnits).toBe(3);
    expect(none).not.toHaveProperty('ConsumedCapacity');
  });

  test('the answer of a caller that did not ask is byte for byte what dynalite answers without the front\'s question', async () => {
    const raw = async (target: string, body: Record<string, unknown>) => {
      const res = await fetch(ddb.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${target}`,
          'x-amz-date': '20200101T000000Z',
          'authorization': 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=local',
        },
        body: JSON.stringify(body),
      });
      return [res.status, await res.text(), res.headers.get('content-length')];
    };
    const id = freshId();
    expect(await raw('PutItem', { TableName: 'links', Item: { id: { S: id }, n: { N: '1' } } })).toEqual([200, '{}', '2']);
    expect(await raw('UpdateItem', { TableName: 'links', Key: { id: { S: id } }, UpdateExpression: 'SET n = :two', ExpressionAttributeValues: { ':two': { N: '2' } }, ReturnValues: 'UPDATED_OLD' }))
      .toEqual([200, '{"Attributes":{"n":{"N":"1"}}}', '30']);
  });
});

describe('post-serve faults: the write commits, the answer is lost or late', () => {
  test('commit-then-reset: the client (maxAttempts 1) gets a network error, yet the write committed', async () => {
    const id = freshId();
    await put(id, { n: { N: '0' } });
    ddb.calls.reset();
    ddb.fault.set({ mode: 'commit-then-reset', operations: ['UpdateItem'], times: 1 });
    const err = await rejection(newClient({ maxAttempts: 1 }).send(increment(id, 1)));
    // No HTTP answer at all: the connection was dropped after dynalite executed the update.
    expect(err.$metadata?.httpStatusCode).toBeUndefined();
    expect(`${err.code ?? ''} ${err.message}`).toMatch(/ECONNRESET|socket hang up/);
    expect(ddb.fault.active).toBeUndefined();
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '1' } });
    expect(ddb.calls.get('UpdateItem')).toBe(1);
  });

  test('commit-then-delay: a client whose requestTimeout is shorter than delayMs times out, the write is there', async () => {
    const id = freshId();
    await put(id, { n: { N: '0' } });
    // Held far longer than the timeout, so a loaded machine's late timer cannot blur the two.
    ddb.fault.set({ mode: 'commit-then-delay', delayMs: 5000, operations: ['UpdateItem'], times: 1 });
    const started = Date.now();
    const err = await rejection(newClient({ maxAttempts: 1, requestTimeout: 200 }).send(increment(id, 1)));
    expect(err.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '1' } });
  });

  test('commit-then-delay with a patient client: the answer arrives late but intact', async () => {
    const id = freshId();
    await put(id, { n: { N: '0' } });
    ddb.fault.set({ mode: 'commit-then-delay', delayMs: 250, operations: ['UpdateItem'] });
    const started = Date.now();
    const out = await client.send(increment(id, 1, { ReturnValues: 'ALL_NEW' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(out.Attributes).toEqual({ id: { S: id }, n: { N: '1' } });
  });

  test.each([
    ['commit-then-delay (the first answer is too late)', { mode: 'commit-then-delay' as const, delayMs: 800 }],
    ['commit-then-reset (the first answer is lost)', { mode: 'commit-then-reset' as const }],
  ])('%s: the SDK retry (maxAttempts 2) fails its condition and err.Item shows the committed state', async (_name, fault) => {
    const id = freshId();
    await put(id, { n: { N: '0' }, viewer: { S: 'req-1' } });
    ddb.calls.reset();
    ddb.fault.set({ ...fault, operations: ['UpdateItem'], times: 1 });
    const retrying = newClient({ maxAttempts: 2, requestTimeout: 300 });
    const err = await rejection(retrying.send(increment(id, 1, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect(err.$metadata?.attempts).toBe(2);
    // The first attempt won: the retry sees its write, which the redemption code can recognise.
    expect(err.Item).toEqual({ id: { S: id }, n: { N: '1' }, viewer: { S: 'req-1' } });
    expect(ddb.calls.get('UpdateItem')).toBe(2);
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '1' }, viewer: { S: 'req-1' } });
  });

  test('post-serve faults honour `operations` and `times`', async () => {
    const id = freshId();
    await put(id, { n: { N: '0' } });
    ddb.fault.set({ mode: 'commit-then-reset', operations: ['UpdateItem'], times: 2 });
    // Not an UpdateItem: served normally, and it does not use up the fault.
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '0' } });
    expect(ddb.fault.active?.mode).toBe('commit-then-reset');
    await rejection(client.send(increment(id, 5)));
    await rejection(client.send(increment(id, 5)));
    expect(ddb.fault.active).toBeUndefined();
    await client.send(increment(id, 5));
    expect(await get(id)).toEqual({ id: { S: id }, n: { N: '3' } });
  });

  test('close() ends an answer held by commit-then-delay promptly', async () => {
    const other = await startDynamoDB({ tables: [{ name: 'held', hashKey: 'id' }] });
    const c = new DynamoDBClient({
      endpoint: other.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      other.fault.set({ mode: 'commit-then-delay', delayMs: 60_000 });
      const outcome = c.send(new PutItemCommand({ TableName: 'held', Item: { id: { S: 'x' } } }))
        .then(() => 'answered', () => 'dropped');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await outcome).toBe('dropped');
    } finally {
      c.destroy();
    }
  });

  test('servers without post-serve support refuse commit-then-* when the fault is set', async () => {
    expect(() => new FaultInjector().set({ mode: 'commit-then-reset' })).toThrow(/not supported by this server/);
    expect(() => new FaultInjector().set({ mode: 'commit-then-delay', delayMs: 10 })).toThrow(/not supported by this server/);
    expect(() => new FaultInjector().set({ mode: 'explode' as never })).toThrow(/FaultSpec.mode must be one of/);
    const svc = await startAwsJsonServices();
    try {
      expect(() => svc.fault.set({ mode: 'commit-then-reset', operations: ['GetParameter'] })).toThrow(/only the local DynamoDB/);
      expect(svc.fault.active).toBeUndefined();
    } finally {
      await svc.close();
    }
    expect(ddb.fault.supportsPostServe).toBe(true);
  });
});
