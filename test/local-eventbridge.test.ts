// The local EventBridge PutEvents (on the AWS JSON 1.1 server beside SSM and Secrets Manager),
// through the real EventBridgeClient: validation as EventBridge does it
// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html), recorded
// events, injected faults, and a DynamoDB stream consumer publishing to it.
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { type LocalAwsJson, type LocalEvent, startAwsJsonServices, startDynamoDB } from '../local/servers';
import { rejection } from './util/rejection';


const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let svc: LocalAwsJson;
let events: EventBridgeClient;

beforeAll(async () => {
  svc = await startAwsJsonServices({ accountId: '111122223333' });
  events = new EventBridgeClient({ endpoint: svc.endpoint, region: 'eu-west-1', credentials, maxAttempts: 1 });
});

afterAll(async () => {
  events.destroy();
  await svc.close();
});

afterEach(() => {
  svc.fault.clear();
  svc.clearEvents();
  svc.calls.reset();
});

function entry(detail: Record<string, unknown>, extra: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry {
  return { Source: 'otp.links', DetailType: 'LinkRedeemed', Detail: JSON.stringify(detail), ...extra };
}

describe('PutEvents', () => {
  test('accepts valid entries through the real EventBridgeClient and records them in order', async () => {
    const heard: LocalEvent[] = [];
    const off = svc.onEvent((e) => heard.push(e));
    const time = new Date('2026-03-01T12:00:00Z');
    const out = await events.send(new PutEventsCommand({
      Entries: [
        entry({ id: 'a', uses: 1 }),
        entry({ id: 'b' }, { EventBusName: 'links-bus', Time: time, Resources: ['arn:aws:s3:::bucket/key'] }),
        entry({ id: 'c' }, { EventBusName: 'arn:aws:events:eu-west-1:111122223333:event-bus/links-bus', DetailType: 'LinkExpired' }),
      ],
    }));
    off();
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries).toHaveLength(3);
    for (const e of out.Entries ?? []) {
      expect(e.EventId).toMatch(UUID);
      expect(e.ErrorCode).toBeUndefined();
    }

    expect(svc.events.map((e) => [e.eventId, e.source, e.detailType, e.detail, e.eventBusName])).toEqual([
      [out.Entries?.[0].EventId, 'otp.links', 'LinkRedeemed', { id: 'a', uses: 1 }, 'default'],
      [out.Entries?.[1].EventId, 'otp.links', 'LinkRedeemed', { id: 'b' }, 'links-bus'],
      [out.Entries?.[2].EventId, 'otp.links', 'LinkExpired', { id: 'c' }, 'links-bus'],
    ]);
    expect(svc.events[1]).toMatchObject({ time, resources: ['arn:aws:s3:::bucket/key'], region: 'eu-west-1', account: '111122223333' });
    expect(Math.abs(svc.events[0].time.getTime() - Date.now())).toBeLessThan(10_000);
    expect(heard).toEqual(svc.events);
    expect(Object.isFrozen(svc.events[0].detail)).toBe(true);
    expect(svc.calls.snapshot()).toEqual({ PutEvents: 1 });
  });

  test('the client finds it through AWS_ENDPOINT_URL_EVENTBRIDGE', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = svc.endpoint;
    const viaEnv = new EventBridgeClient({ region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      const out = await viaEnv.send(new PutEventsCommand({ Entries: [entry({ id: 'env' })] }));
      expect(out.FailedEntryCount).toBe(0);
      expect(svc.events.map((e) => [e.detail, e.region])).toEqual([[{ id: 'env' }, 'us-east-1']]);
    } finally {
      viaEnv.destroy();
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
      else process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = saved;
    }
  });

  test('rejects invalid entries one by one, counts them in FailedEntryCount, and still accepts the valid ones', async () => {
    const out = await events.send(new PutEventsCommand({
      Entries: [
        { DetailType: 'T', Detail: '{}' },
        { Source: 's', Detail: '{}' },
        { Source: 's', DetailType: 'T' },
        entry({ id: 'valid-1' }),
        { Source: 's', DetailType: 'T', Detail: 'not json' },
        { Source: 's', DetailType: 'T', Detail: '"a string"' },
        { Source: 's', DetailType: 'T', Detail: '[1, 2]' },
        { Source: '', DetailType: 'T', Detail: '{}' },
        entry({ id: 'valid-2' }),
      ],
    }));
    const missing = (field: string): Record<string, string> => ({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
    });
    const malformed = { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    expect(out.FailedEntryCount).toBe(7);
    expect(out.Entries).toEqual([
      missing('Source'),
      missing('DetailType'),
      missing('Detail'),
      { EventId: expect.stringMatching(UUID) },
      malformed,
      malformed,
      malformed,
      missing('Source'),
      { EventId: expect.stringMatching(UUID) },
    ]);
    expect(svc.events.map((e) => e.detail)).toEqual([{ id: 'valid-1' }, { id: 'valid-2' }]);

    // Every entry invalid: still a 200 answer, every entry failed.
    const allBad = await events.send(new PutEventsCommand({ Entries: [{ Source: 's' }] }));
    expect(allBad).toMatchObject({ FailedEntryCount: 1, Entries: [missing('DetailType')] });
  });

  test('refuses the whole request with no entries or more than 10, recording nothing', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => entry({ i }));
    const tooMany = await rejection(events.send(new PutEventsCommand({ Entries: eleven })));
    expect(tooMany.name).toBe('ValidationException');
    expect(tooMany.$metadata?.httpStatusCode).toBe(400);
    expect(tooMany.message).toMatch(/^1 validation error detected: Value '\[PutEventsRequestEntry\(time=null, source=otp\.links, /);
    expect(tooMany.message).toMatch(/' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10$/);

    const none = await rejection(events.send(new PutEventsCommand({ Entries: [] })));
    expect(none.name).toBe('ValidationException');
    expect(none.message).toMatch(/Member must have length greater than or equal to 1/);

    const ten = await events.send(new PutEventsCommand({ Entries: eleven.slice(0, 10) }));
    expect(ten.FailedEntryCount).toBe(0);
    expect(svc.events).toHaveLength(10);
  });

  test('refuses a request whose entries total 256 KiB or more, counted as EventBridge counts them', async () => {
    const limit = 256 * 1024;
    // Source + DetailType + Detail bytes; Time counts 14 bytes.
    const fixed = 'otp.links'.length + 'LinkRedeemed'.length + '{"pad":""}'.length + 14;
    const padded = (pad: number): PutEventsRequestEntry => entry({ pad: 'x'.repeat(pad) }, { Time: new Date() });

    const over = await rejection(events.send(new PutEventsCommand({ Entries: [padded(limit - fixed)] })));
    expect(over.name).toBe('ValidationException');
    expect(over.$metadata?.httpStatusCode).toBe(400);
    expect(over.message).toBe('Total size of the entries in the request is over the limit.');

    // The limit is on the request's total, not per entry.
    const split = await rejection(events.send(new PutEventsCommand({ Entries: [padded(limit / 2), padded(limit / 2)] })));
    expect(split.name).toBe('ValidationException');
    expect(svc.events).toHaveLength(0);

    const under = await events.send(new PutEventsCommand({ Entries: [padded(limit - fixed - 1)] }));
    expect(under.FailedEntryCount).toBe(0);
    expect(svc.events).toHaveLength(1);
  });

  test('putEventsMaxBytes raises the size limit (AWS raised it to 1 MiB in 2026)', async () => {
    const big = await startAwsJsonServices({ putEventsMaxBytes: 1024 * 1024 });
    const client = new EventBridgeClient({ endpoint: big.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      const out = await client.send(new PutEventsCommand({ Entries: [entry({ pad: 'x'.repeat(600 * 1024) })] }));
      expect(out.FailedEntryCount).toBe(0);
      expect(big.events).toHaveLength(1);
    } finally {
      client.destroy();
      await big.close();
    }
  });

  test.each([
    ['error', 'InternalException', 500],
    ['throttle', 'ThrottlingException', 400],
  ] as const)('fails as a whole under an injected %s fault, recording nothing, and recovers', async (mode, name, status) => {
    svc.fault.set({ mode, operations: ['PutEvents'], times: 1 });
    const err = await rejection(events.send(new PutEventsCommand({ Entries: [entry({ id: 'lost' })] })));
    expect(err.name).toBe(name);
    expect(err.$metadata?.httpStatusCode).toBe(status);
    expect(svc.events).toHaveLength(0);

    const out = await events.send(new PutEventsCommand({ Entries: [entry({ id: 'delivered' })] }));
    expect(out.FailedEntryCount).toBe(0);
    expect(svc.events.map((e) => e.detail)).toEqual([{ id: 'delivered' }]);
    expect(svc.calls.get('PutEvents')).toBe(2);
  });
});

describe('a DynamoDB stream consumer publishing to the local EventBridge', () => {
  test('every change reaches the bus once, in order, although PutEvents failed on the way', async () => {
    const ddb = await startDynamoDB({ tables: [{ name: 'ledger', hashKey: 'id', stream: 'NEW_AND_OLD_IMAGES' }] });
    const dynamo = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    // A handler of the shape the link events Lambda has: one PutEvents per record, throws on failure.
    const handler = async (event: DynamoDBStreamEvent): Promise<void> => {
      for (const record of event.Records) {
        const out = await events.send(new PutEventsCommand({
          Entries: [entry({
            id: record.dynamodb?.Keys?.id?.S,
            change: record.eventName,
            uses: record.dynamodb?.NewImage?.uses?.N,
            sequence: record.dynamodb?.SequenceNumber,
          })],
        }));
        if (out.FailedEntryCount) throw new Error('not delivered');
      }
    };
    const consumer = ddb.stream('ledger').consume(handler, { batchSize: 1, retryDelayMs: 1 });
    try {
      svc.fault.set({ mode: 'throttle', operations: ['PutEvents'], times: 2 });
      await dynamo.send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: 'L1' }, uses: { N: '0' } } }));
      for (let i = 0; i < 3; i++) {
        await dynamo.send(new UpdateItemCommand({
          TableName: 'ledger',
          Key: { id: { S: 'L1' } },
          UpdateExpression: 'SET uses = uses + :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }));
      }
      await consumer.drain();
      expect(consumer.errors).toHaveLength(2);
      expect(svc.events.map((e) => [e.detail.change, e.detail.uses])).toEqual([
        ['INSERT', '0'], ['MODIFY', '1'], ['MODIFY', '2'], ['MODIFY', '3'],
      ]);
      expect(svc.events.map((e) => e.detail.sequence)).toEqual(ddb.stream('ledger').records().map((r) => r.dynamodb.SequenceNumber));
    } finally {
      await consumer.stop();
      dynamo.destroy();
      await ddb.close();
    }
  });
});
