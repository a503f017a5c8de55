// BASELINE for the benchmark: the seed's viewer-request handler, rewritten from its
// description. It is NOT part of the library and never ships.
//
// Per request, with no caching: SSM GetParameter for the table name, DynamoDB GetItem
// ("has this URL been used?"), then an unconditional PutItem ("mark it used"), keyed
// by a hash of the raw URL, all in us-east-1. (Two concurrent requests both pass the
// GetItem: that race is the seed's bug, not measured here.) SDK clients live at module
// scope, as any sensible handler has them; only the values are re-read per request.
import { createHash } from 'crypto';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFrontRequestEvent, CloudFrontRequestResult } from 'aws-lambda';
import { BASELINE_HASH_KEY, BASELINE_PARAMETER_NAME, BASELINE_REGION } from './baseline-config';

const ssm = new SSMClient({ region: BASELINE_REGION });
const dynamo = new DynamoDBClient({ region: BASELINE_REGION });

export async function handler(event: CloudFrontRequestEvent): Promise<CloudFrontRequestResult> {
  const request = event.Records[0].cf.request;

  const parameter = await ssm.send(new GetParameterCommand({ Name: BASELINE_PARAMETER_NAME }));
  const tableName = parameter.Parameter?.Value ?? '';

  const rawUrl = request.querystring ? `${request.uri}?${request.querystring}` : request.uri;
  const urlHash = createHash('sha256').update(rawUrl).digest('hex');
  const key = { [BASELINE_HASH_KEY]: { S: urlHash } };

  const existing = await dynamo.send(new GetItemCommand({ TableName: tableName, Key: key }));
  if (existing.Item) {
    return {
      status: '403',
      statusDescription: 'Forbidden',
      headers: { 'content-type': [{ key: 'Content-Type', value: 'text/plain' }] },
      body: 'This URL has already been used.',
    };
  }
  await dynamo.send(new PutItemCommand({
    TableName: tableName,
    Item: { ...key, used: { BOOL: true }, usedAt: { S: new Date().toISOString() } },
  }));
  return request;
}
