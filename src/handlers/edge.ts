// Viewer-request Lambda@Edge handler: redeems a one-time link atomically, or refuses.
//
// Per container: reads the staged config.json once, the SSM parameter once (with a
// bounded refresh), then costs exactly one DynamoDB call per warm request.
import { readFileSync } from 'fs';
import { join } from 'path';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFrontRequest, CloudFrontRequestEvent, CloudFrontRequestResult, CloudFrontResultResponse } from 'aws-lambda';
import { redeemLinkInput } from './ledger';
import { boundedHttpHandler } from './sdk';
import { EDGE_STAGED_CONFIG_FILE, EdgeRuntimeConfig, EdgeStagedConfig } from '../shared/config';
import { parsePresentedLink } from '../shared/link';
import { previewMatcher } from '../shared/preview';

/** Whole-invocation budget: well inside the 5 s viewer-request limit, so we answer 503 ourselves. */
const BUDGET_MS = 3500;
/** How long the SSM value is trusted before it is read again. */
const CONFIG_REFRESH_MS = 5 * 60_000;
/** After a failed refresh, keep the last good value this long before trying again. */
const CONFIG_RETRY_MS = 30_000;

let staged: EdgeStagedConfig | undefined;
let runtime: { config: EdgeRuntimeConfig; preview: RegExp | undefined; freshUntil: number } | undefined;
let runtimeInFlight: Promise<EdgeRuntimeConfig> | undefined;
let ssm: SSMClient | undefined;
const dynamoByRegion = new Map<string, DynamoDBClient>();

export async function handler(event: CloudFrontRequestEvent): Promise<CloudFrontRequestResult> {
  const deadline = Date.now() + BUDGET_MS;
  const request: CloudFrontRequest = event.Records[0].cf.request;

  // Only GET redeems. HEAD and the rest are refused before any I/O, so they never burn a use.
  if (request.method !== 'GET') return refuse('Only GET is allowed for one-time links.');

  const now = Math.floor(Date.now() / 1000);
  const link = parsePresentedLink(request.uri, request.querystring, now);
  if (!link.ok) return refuse(`Refused: ${link.reason}.`);

  let config: EdgeRuntimeConfig;
  let preview: RegExp | undefined;
  try {
    ({ config, preview } = await runtimeConfig(deadline));
  } catch (err) {
    logFailure('config', err);
    return unavailable();
  }

  const userAgent = request.headers['user-agent']?.[0]?.value ?? '';
  if (preview?.test(userAgent)) {
    return refuse('Link previews are not served: this link works once. Open it in a browser.');
  }

  try {
    await dynamo(config.tableRegion).send(
      new UpdateItemCommand(redeemLinkInput(config.tableName, link.value, now, {
        at: new Date().toISOString(),
        ip: request.clientIp,
        userAgent,
      })),
      { abortSignal: AbortSignal.timeout(remaining(deadline)) },
    );
  } catch (err) {
    if ((err as Error).name === 'ConditionalCheckFailedException') {
      return refuse('This link has already been used, has expired, or is not valid.');
    }
    logFailure('ledger', err);
    return unavailable();
  }
  // The request goes on to S3 untouched: the query string must reach it byte for byte.
  return request;
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

function stagedConfig(): EdgeStagedConfig {
  staged ??= JSON.parse(readFileSync(join(__dirname, EDGE_STAGED_CONFIG_FILE), 'utf8')) as EdgeStagedConfig;
  return staged;
}

async function runtimeConfig(deadline: number): Promise<{ config: EdgeRuntimeConfig; preview: RegExp | undefined }> {
  if (runtime && Date.now() < runtime.freshUntil) return runtime;
  // Concurrent cold requests share one SSM call.
  runtimeInFlight ??= fetchRuntimeConfig(deadline).finally(() => { runtimeInFlight = undefined; });
  try {
    const config = await runtimeInFlight;
    const preview = config.previewProtection ? previewMatcher(config.previewAgents ?? []) : undefined;
    runtime = { config, preview, freshUntil: Date.now() + CONFIG_REFRESH_MS };
    return runtime;
  } catch (err) {
    // A failed refresh keeps serving the last good value; with none, fail closed.
    if (!runtime) throw err;
    runtime.freshUntil = Date.now() + CONFIG_RETRY_MS;
    return runtime;
  }
}

async function fetchRuntimeConfig(deadline: number): Promise<EdgeRuntimeConfig> {
  const { parameterName, parameterRegion } = stagedConfig();
  ssm ??= new SSMClient({
    region: parameterRegion,
    maxAttempts: 2,
    requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1000 }),
  });
  const out = await ssm.send(new GetParameterCommand({ Name: parameterName }), {
    abortSignal: AbortSignal.timeout(remaining(deadline)),
  });
  const config = JSON.parse(out.Parameter?.Value ?? '') as EdgeRuntimeConfig;
  if (typeof config.tableName !== 'string' || typeof config.tableRegion !== 'string') {
    throw new Error(`SSM parameter ${parameterName} does not hold an edge configuration`);
  }
  return config;
}

function dynamo(region: string): DynamoDBClient {
  let client = dynamoByRegion.get(region);
  if (!client) {
    client = new DynamoDBClient({
      region,
      maxAttempts: 2,
      requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1500 }),
    });
    dynamoByRegion.set(region, client);
  }
  return client;
}

function logFailure(stage: string, err: unknown): void {
  const e = err as Error;
  console.error(JSON.stringify({ level: 'error', stage, error: e.name, message: e.message }));
}

function respond(status: string, statusDescription: string, body: string): CloudFrontResultResponse {
  return {
    status,
    statusDescription,
    headers: {
      'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
    },
    body,
  };
}

function refuse(reason: string): CloudFrontResultResponse {
  return respond('403', 'Forbidden', reason);
}

function unavailable(): CloudFrontResultResponse {
  return respond('503', 'Service Unavailable', 'The link service is temporarily unavailable. Try again shortly.');
}
