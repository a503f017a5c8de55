// The local DynamoDB's stream emulation: records as Lambda's DynamoDB event source delivers
// them (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html), one per item-level write
// that changes an item, with the item just before and just after that write as images, and a
// consumer that feeds a handler like an event source mapping.
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type LocalDynamoDB, type LocalStreamRecord, startDynamoDB } from '../local/servers';
import { rejection, type SdkError } from './util/rejection';


let ddb: LocalDynamoDB;
let client: DynamoDBClient;

beforeAll(async () => {
  ddb = await startDynamoDB({
    tables: [
      { name: 'ledger', hashKey: 'id', stream: 'NEW_AND_OLD_IMAGES' },
      { name: 'plain', hashKey: 'id' },
      { name: 'pairs', hashKey: 'pk', rangeKey: 'sk', stream: 'KEYS_ONLY' },
    ],
  });
  client = new DynamoDBClient({
    endpoint: ddb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await ddb.close();
});

let nextId = 0;
function freshId(): string {
  nextId += 1;
  return `item-${nextId}`;
}

/** The ledger stream's records for one item, in stream order. */
function recordsOf(id: string, table = 'ledger'): LocalStreamRecord[] {
  return ddb.stream(table).records().filter((r) => r.dynamodb.Keys.id?.S === id);
}

async function getItem(id: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await client.send(new GetItemCommand({ TableName: 'ledger', Key: { id: { S: id } }, ConsistentRead: true }))).Item;
}

function seq(record: LocalStreamRecord): bigint {
  return BigInt(record.dynamodb.SequenceNumber);
}

describe('stream records', () => {
  test('insert, modify and remove each give one record carrying the item before and after the write', async () => {
    const id = freshId();
    const before = Math.floor(Date.now() / 1000);
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id }, uses: { N: '0' }, state: { S: 'open' } } }));
    await client.send(new UpdateItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      UpdateExpression: 'SET uses = uses + :one, #s = :s',
      ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: { ':one': { N: '1' }, ':s': { S: 'spent' } },
    }));
    await client.send(new DeleteItemCommand({ TableName: 'ledger', Key: { id: { S: id } } }));

    const records = recordsOf(id);
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = records;
    expect(insert.dynamodb.OldImage).toBeUndefined();
    expect(insert.dynamodb.NewImage).toEqual({ id: { S: id }, uses: { N: '0' }, state: { S: 'open' } });
    expect(modify.dynamodb.OldImage).toEqual(insert.dynamodb.NewImage);
    expect(modify.dynamodb.NewImage).toEqual({ id: { S: id }, uses: { N: '1' }, state: { S: 'spent' } });
    expect(remove.dynamodb.OldImage).toEqual(modify.dynamodb.NewImage);
    expect(remove.dynamodb.NewImage).toBeUndefined();

    const stream = ddb.stream('ledger');
    expect(stream.streamArn).toMatch(/^arn:aws:dynamodb:[a-z0-9-]+:\d*:table\/ledger\/stream\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
    for (const r of records) {
      expect(r).toMatchObject({ eventVersion: '1.1', eventSource: 'aws:dynamodb', eventSourceARN: stream.streamArn });
      expect(r.eventID).toMatch(/^[0-9a-f]{32}$/);
      expect(r.awsRegion).toBe(stream.streamArn.split(':')[3]);
      expect(r.dynamodb.Keys).toEqual({ id: { S: id } });
      expect(r.dynamodb.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
      expect(r.dynamodb.SequenceNumber).toMatch(/^\d{21,40}$/);
      expect(Number.isInteger(r.dynamodb.ApproximateCreationDateTime)).toBe(true);
      expect(r.dynamodb.ApproximateCreationDateTime).toBeGreaterThanOrEqual(before);
      expect(r.dynamodb.ApproximateCreationDateTime).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      // Key order of the Lambda example event.
      expect(Object.keys(r)).toEqual(['eventID', 'eventName', 'eventVersion', 'eventSource', 'awsRegion', 'dynamodb', 'eventSourceARN']);
    }
    expect(seq(insert) < seq(modify) && seq(modify) < seq(remove)).toBe(true);
    expect(new Set(records.map((r) => r.eventID)).size).toBe(3);

    // Records are what Lambda hands a DynamoDB stream handler.
    const event: DynamoDBStreamEvent = { Records: records };
    const asLambdaRecord: DynamoDBRecord = event.Records[0];
    expect(asLambdaRecord.dynamodb?.NewImage?.uses).toEqual({ N: '0' });
  });

  test('records of the Lambda documentation example have its Keys, images and SizeBytes (26, 59, 38)', async () => {
    // The example event in "Using AWS Lambda with Amazon DynamoDB": table with a number key Id,
    // an INSERT, a MODIFY and a REMOVE of item 101. Created through the endpoint with StreamSpecification.
    await client.send(new CreateTableCommand({
      TableName: 'ExampleTableWithStream',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'Id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'Id', AttributeType: 'N' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }));
    const stream = ddb.stream('ExampleTableWithStream');
    const described = await client.send(new DescribeTableCommand({ TableName: 'ExampleTableWithStream' }));
    expect(described.Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(described.Table?.LatestStreamArn).toBe(stream.streamArn);
    expect(described.Table?.LatestStreamLabel).toBe(stream.streamLabel);
    expect(stream.streamArn).toBe(`${described.Table?.TableArn}/stream/${stream.streamLabel}`);

    const status = async (): Promise<string | undefined> =>
      (await client.send(new DescribeTableCommand({ TableName: 'ExampleTableWithStream' }))).Table?.TableStatus;
    for (let attempt = 0; await status() !== 'ACTIVE'; attempt++) {
      if (attempt > 200) throw new Error('table did not become ACTIVE');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const key = { Id: { N: '101' } };
    await client.send(new PutItemCommand({ TableName: 'ExampleTableWithStream', Item: { ...key, Message: { S: 'New item!' } } }));
    await client.send(new UpdateItemCommand({
      TableName: 'ExampleTableWithStream',
      Key: key,
      UpdateExpression: 'SET Message = :m',
      ExpressionAttributeValues: { ':m': { S: 'This item has changed' } },
    }));
    await client.send(new DeleteItemCommand({ TableName: 'ExampleTableWithStream', Key: key }));

    const records = stream.records();
    expect(records.map((r) => [r.eventName, r.dynamodb])).toEqual([
      ['INSERT', expect.objectContaining({
        Keys: key, NewImage: { Message: { S: 'New item!' }, Id: { N: '101' } }, SizeBytes: 26, StreamViewType: 'NEW_AND_OLD_IMAGES',
      })],
      ['MODIFY', expect.objectContaining({
        Keys: key,
        NewImage: { Message: { S: 'This item has changed' }, Id: { N: '101' } },
        OldImage: { Message: { S: 'New item!' }, Id: { N: '101' } },
        SizeBytes: 59,
      })],
      ['REMOVE', expect.objectContaining({ Keys: key, OldImage: { Message: { S: 'This item has changed' }, Id: { N: '101' } }, SizeBytes: 38 })],
    ]);
    expect(records[0].dynamodb.OldImage).toBeUndefined();
    expect(records[2].dynamodb.NewImage).toBeUndefined();

    // Deleting the table ends its stream.
    await client.send(new DeleteTableCommand({ TableName: 'ExampleTableWithStream' }));
    expect(() => ddb.stream('ExampleTableWithStream')).toThrow(/has no stream/);
  });

  test('an invalid StreamViewType in CreateTable is refused with ValidationException', async () => {
    const err = await rejection(client.send(new CreateTableCommand({
      TableName: 'bad-stream',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'EVERYTHING' as 'KEYS_ONLY' },
    })));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toMatch(/streamSpecification\.streamViewType.*\[NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY\]/);
  });

  test('a write that changes nothing gives no record', async () => {
    const id = freshId();
    const item = { id: { S: id }, n: { N: '1' }, tags: { SS: ['a', 'b'] } };
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: item }));
    expect(recordsOf(id)).toHaveLength(1);

    // The same item again, attribute order and set order changed.
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { tags: { SS: ['b', 'a'] }, n: { N: '1' }, id: { S: id } } }));
    // Setting the values it already has, a number written differently, adding zero, removing a missing attribute.
    await client.send(new UpdateItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      UpdateExpression: 'SET n = :same REMOVE absentAttr',
      ExpressionAttributeValues: { ':same': { N: '1.0' } },
    }));
    await client.send(new UpdateItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      UpdateExpression: 'SET n = n + :zero',
      ExpressionAttributeValues: { ':zero': { N: '0' } },
    }));
    // Deleting an item that does not exist.
    await client.send(new DeleteItemCommand({ TableName: 'ledger', Key: { id: { S: freshId() } } }));
    expect(recordsOf(id)).toHaveLength(1);

    // And a write that does change it still gives its record.
    await client.send(new UpdateItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      UpdateExpression: 'ADD tags :c',
      ExpressionAttributeValues: { ':c': { SS: ['c'] } },
    }));
    expect(recordsOf(id).map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY']);
  });

  test('a failed conditional write gives no record', async () => {
    const id = freshId();
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id }, uses: { N: '1' } } }));
    const count = ddb.stream('ledger').records().length;

    const put = await rejection(client.send(new PutItemCommand({
      TableName: 'ledger',
      Item: { id: { S: id }, uses: { N: '0' } },
      ConditionExpression: 'attribute_not_exists(id)',
    })));
    expect(put).toBeInstanceOf(ConditionalCheckFailedException);
    const update = await rejection(client.send(new UpdateItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      UpdateExpression: 'SET uses = uses + :one',
      ConditionExpression: 'uses < :max',
      ExpressionAttributeValues: { ':one': { N: '1' }, ':max': { N: '1' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    })));
    expect(update).toBeInstanceOf(ConditionalCheckFailedException);
    expect(update.Item).toEqual(recordsOf(id)[0].dynamodb.NewImage);
    const del = await rejection(client.send(new DeleteItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      ConditionExpression: 'uses = :zero',
      ExpressionAttributeValues: { ':zero': { N: '0' } },
    })));
    expect(del).toBeInstanceOf(ConditionalCheckFailedException);

    expect(ddb.stream('ledger').records()).toHaveLength(count);
    expect(recordsOf(id).map((r) => r.eventName)).toEqual(['INSERT']);
  });

  test('100 concurrent conditional increments of one item give records whose images chain exactly', async () => {
    const id = freshId();
    const max = 60;
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id }, n: { N: '0' } } }));
    const increment = (): Promise<string> => client.send(new UpdateItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      UpdateExpression: 'SET n = n + :one',
      ConditionExpression: 'n < :max',
      ExpressionAttributeValues: { ':one': { N: '1' }, ':max': { N: String(max) } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    })).then(() => 'ok', (err: SdkError) => {
      expect(err).toBeInstanceOf(ConditionalCheckFailedException);
      expect(err.Item?.n).toEqual({ N: String(max) });
      return 'refused';
    });
    const outcomes = await Promise.all(Array.from({ length: 100 }, increment));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(max);

    const [insert, ...modifies] = recordsOf(id);
    expect(insert.eventName).toBe('INSERT');
    expect(modifies).toHaveLength(max);
    let previous = insert;
    for (const [i, record] of modifies.entries()) {
      expect(record.eventName).toBe('MODIFY');
      // Each record's OldImage is exactly the previous record's NewImage: no write was lost,
      // merged or reordered between the images.
      expect(record.dynamodb.OldImage).toEqual(previous.dynamodb.NewImage);
      expect(record.dynamodb.NewImage).toEqual({ id: { S: id }, n: { N: String(i + 1) } });
      expect(seq(record) > seq(previous)).toBe(true);
      previous = record;
    }
    expect(await getItem(id)).toEqual(previous.dynamodb.NewImage);
  });

  test('BatchWriteItem gives one record per put or delete request of a streamed table', async () => {
    const [a, b, c] = [freshId(), freshId(), freshId()];
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: c }, v: { S: 'old' } } }));
    await client.send(new BatchWriteItemCommand({
      RequestItems: {
        ledger: [
          { PutRequest: { Item: { id: { S: a }, v: { S: 'a' } } } },
          { PutRequest: { Item: { id: { S: b }, v: { S: 'b' } } } },
          { DeleteRequest: { Key: { id: { S: c } } } },
        ],
        plain: [{ PutRequest: { Item: { id: { S: a }, v: { S: 'unstreamed' } } } }],
      },
    }));
    expect(recordsOf(a).map((r) => [r.eventName, r.dynamodb.NewImage])).toEqual([['INSERT', { id: { S: a }, v: { S: 'a' } }]]);
    expect(recordsOf(b).map((r) => r.eventName)).toEqual(['INSERT']);
    expect(recordsOf(c).map((r) => [r.eventName, r.dynamodb.OldImage])).toEqual([
      ['INSERT', undefined],
      ['REMOVE', { id: { S: c }, v: { S: 'old' } }],
    ]);
    expect(() => ddb.stream('plain')).toThrow(/table plain has no stream/);
  });

  test('a KEYS_ONLY stream carries the full key and no images', async () => {
    const key = { pk: { S: freshId() }, sk: { S: 'v1' } };
    await client.send(new PutItemCommand({ TableName: 'pairs', Item: { ...key, payload: { S: 'x'.repeat(100) } } }));
    const [record] = ddb.stream('pairs').records().filter((r) => r.dynamodb.Keys.pk?.S === key.pk.S);
    expect(record.dynamodb).toEqual({
      ApproximateCreationDateTime: expect.any(Number),
      Keys: key,
      SequenceNumber: expect.stringMatching(/^\d{28}$/),
      SizeBytes: 2 + key.pk.S.length + 2 + 2, // the key attributes only
      StreamViewType: 'KEYS_ONLY',
    });
  });

  test('a write committed although its answer was lost has its record; a write refused by a fault has none', async () => {
    const id = freshId();
    ddb.fault.set({ mode: 'commit-then-reset', operations: ['PutItem'], times: 1 });
    await rejection(client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id }, n: { N: '1' } } })));
    expect(recordsOf(id).map((r) => r.eventName)).toEqual(['INSERT']);

    ddb.fault.set({ mode: 'error', operations: ['UpdateItem'], times: 1 });
    const err = await rejection(client.send(new UpdateItemCommand({
      TableName: 'ledger',
      Key: { id: { S: id } },
      UpdateExpression: 'SET n = :two',
      ExpressionAttributeValues: { ':two': { N: '2' } },
    })));
    expect(err.$metadata?.httpStatusCode).toBe(500);
    expect(recordsOf(id)).toHaveLength(1);
  });

  test('onRecord sees each new record in commit order, and can be removed', async () => {
    const seen: LocalStreamRecord[] = [];
    const off = ddb.stream('ledger').onRecord((r) => seen.push(r));
    const id = freshId();
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id }, n: { N: '1' } } }));
    await client.send(new DeleteItemCommand({ TableName: 'ledger', Key: { id: { S: id } } }));
    off();
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id }, n: { N: '2' } } }));
    expect(seen.map((r) => r.eventName)).toEqual(['INSERT', 'REMOVE']);
    expect(seen).toEqual(recordsOf(id).slice(0, 2));
  });
});

describe('stream consumer (Lambda event source mapping)', () => {
  async function putMany(count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, freshId);
    for (const id of ids) await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id } } }));
    return ids;
  }

  test('hands the handler batches in stream order, one invocation at a time, from TRIM_HORIZON or LATEST', async () => {
    const earlier = await putMany(3);
    const batches: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const handler = async (event: DynamoDBStreamEvent): Promise<void> => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      batches.push(event.Records.map((r) => r.dynamodb?.Keys?.id?.S ?? ''));
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
    };
    const latest: string[] = [];
    const fromLatest = ddb.stream('ledger').consume(async (event) => {
      latest.push(...event.Records.map((r) => r.dynamodb?.Keys?.id?.S ?? ''));
    }, { startingPosition: 'LATEST' });
    const consumer = ddb.stream('ledger').consume(handler, { batchSize: 4 });
    const later = await putMany(9);
    await consumer.drain();
    await fromLatest.drain();

    const all = ddb.stream('ledger').records().map((r) => r.dynamodb.Keys.id?.S);
    expect(batches.flat()).toEqual(all);
    expect(batches.every((b) => b.length >= 1 && b.length <= 4)).toBe(true);
    expect(maxInFlight).toBe(1);
    expect(batches.flat()).toEqual(expect.arrayContaining([...earlier, ...later]));
    expect(latest).toEqual(later);
    await consumer.stop();
    await fromLatest.stop();
  });

  test('retries a failed batch before anything after it, and discards it after maximumRetryAttempts', async () => {
    const ids = await putMany(2);
    const target = ids[1];
    const seen: string[] = [];
    const discardedBatches: LocalStreamRecord[][] = [];
    let failuresLeft = 2;
    const consumer = ddb.stream('ledger').consume(async (event) => {
      const keys = event.Records.map((r) => r.dynamodb?.Keys?.id?.S ?? '');
      if (keys.includes(target) && failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('downstream unavailable');
      }
      seen.push(...keys);
    }, { startingPosition: 'TRIM_HORIZON', batchSize: 1, retryDelayMs: 1 });
    await consumer.drain();
    expect(consumer.errors).toHaveLength(2);
    expect(seen.filter((k) => k === target)).toHaveLength(1);
    expect(seen).toEqual(ddb.stream('ledger').records().map((r) => r.dynamodb.Keys.id?.S));
    await consumer.stop();

    // A batch that keeps failing is given up after the retries, and the stream moves on.
    const giveUp = ddb.stream('ledger').consume(async (event) => {
      if (event.Records.some((r) => r.dynamodb?.Keys?.id?.S === target)) throw new Error('poison');
    }, { batchSize: 1, maximumRetryAttempts: 2, retryDelayMs: 1, onDiscard: (records) => discardedBatches.push(records) });
    await giveUp.drain();
    expect(giveUp.errors).toHaveLength(3); // the first attempt and two retries
    expect(giveUp.discarded.map((r) => r.dynamodb.Keys.id?.S)).toEqual([target]);
    expect(discardedBatches).toEqual([giveUp.discarded]);
    await giveUp.stop();
  });

  test('with ReportBatchItemFailures, retries from the lowest reported sequence number', async () => {
    const ids = [freshId(), freshId(), freshId(), freshId()];
    const handled: string[][] = [];
    let reported = false;
    const consumer = ddb.stream('ledger').consume(async (event): Promise<DynamoDBBatchResponse> => {
      handled.push(event.Records.map((r) => r.dynamodb?.Keys?.id?.S ?? ''));
      if (reported) return { batchItemFailures: [] };
      reported = true;
      const sequenceOf = (id: string): string => event.Records.find((r) => r.dynamodb?.Keys?.id?.S === id)?.dynamodb?.SequenceNumber ?? '';
      return { batchItemFailures: [{ itemIdentifier: sequenceOf(ids[3]) }, { itemIdentifier: sequenceOf(ids[2]) }] };
    }, { startingPosition: 'LATEST', reportBatchItemFailures: true, retryDelayMs: 1 });
    // One BatchWriteItem: four records committed together, so they come in one batch.
    await client.send(new BatchWriteItemCommand({
      RequestItems: { ledger: ids.map((id) => ({ PutRequest: { Item: { id: { S: id } } } })) },
    }));
    await consumer.drain();
    // The first two are done; the retry starts at the lowest reported failure.
    expect(handled).toEqual([ids, ids.slice(2)]);
    expect(consumer.errors).toHaveLength(0);
    await consumer.stop();
  });

  test('with ReportBatchItemFailures, an itemIdentifier that is empty or not in the batch fails the whole batch', async () => {
    const ids = [freshId(), freshId()];
    const handled: string[][] = [];
    const answers: DynamoDBBatchResponse[] = [
      { batchItemFailures: [{ itemIdentifier: '' }] },
      { batchItemFailures: [{ itemIdentifier: '1' }] },
      { batchItemFailures: [] },
    ];
    const consumer = ddb.stream('ledger').consume(async (event) => {
      handled.push(event.Records.map((r) => r.dynamodb?.Keys?.id?.S ?? ''));
      return answers.shift();
    }, { startingPosition: 'LATEST', reportBatchItemFailures: true, retryDelayMs: 1 });
    await client.send(new BatchWriteItemCommand({
      RequestItems: { ledger: ids.map((id) => ({ PutRequest: { Item: { id: { S: id } } } })) },
    }));
    await consumer.drain();
    expect(handled).toEqual([ids, ids, ids]);
    await consumer.stop();
  });

  test('without ReportBatchItemFailures a batchItemFailures answer is ignored, as Lambda does', async () => {
    const ids = await putMany(1);
    let calls = 0;
    const consumer = ddb.stream('ledger').consume(async (event) => {
      calls += 1;
      return { batchItemFailures: [{ itemIdentifier: event.Records[0].dynamodb?.SequenceNumber ?? '' }] };
    }, { startingPosition: 'LATEST' });
    await client.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: ids[0] }, v: { S: 'changed' } } }));
    await consumer.drain();
    expect(calls).toBe(1);
    expect(consumer.errors).toHaveLength(0);
    await consumer.stop();
  });
});
