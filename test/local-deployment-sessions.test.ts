// The local deployment creates the sessions table as the construct does: beside the ledger,
// named `<ledger>-sessions`, keyed by link and session, its name staged for the edge and in the
// mint's environment; with link events its stream is consumed like the ledger's.
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { MintEnv } from '../src/shared/config';

let d: LocalDeployment;

beforeAll(async () => {
  d = await startLocalDeployment({ linkEvents: true });
});
afterAll(async () => d?.close());

test('the sessions table sits beside the ledger, keyed by link and session, streamed with link events', async () => {
  expect(d.sessionsTableName).toBe(`${d.tableName}-sessions`);
  expect(d.edgeConfig.sessionsTableName).toBe(d.sessionsTableName);
  expect(process.env[MintEnv.sessionsTableName]).toBe(d.sessionsTableName);
  const client = new DynamoDBClient({ region: d.region, endpoint: d.services.dynamodb.endpoint, credentials: d });
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: d.sessionsTableName }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'link', KeyType: 'HASH' }, { AttributeName: 'session', KeyType: 'RANGE' }]);
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  } finally {
    client.destroy();
  }
  expect(d.services.dynamodb.stream(d.sessionsTableName).viewType).toBe('NEW_AND_OLD_IMAGES');
});
