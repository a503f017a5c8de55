// Link events publisher (regional Lambda on the ledger's DynamoDB stream): turns each
// change of a ledger item into link events on EventBridge. It runs beside the download
// path, never on it: the edge keeps its single write, and no download waits for an event.
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { eventsForChange } from './ledger-changes';
import { boundedHttpHandler } from './sdk';
import { EventsEnv } from '../shared/config';
import { LINK_EVENT_SOURCE } from '../shared/link-events';

/** PutEvents takes at most 10 entries per call. */
const MAX_ENTRIES_PER_CALL = 10;
/** Entries EventBridge refused (throttling, internal errors) are sent again this many times. */
const ENTRY_RETRIES = 3;

let client: EventBridgeClient | undefined;

/**
 * Records are handled in stream order. When a record's events cannot all be delivered,
 * that record is reported as the batch's failure: Lambda then retries from it (the
 * records before it are done), and after its retries sends it to the dead-letter queue.
 */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const busName = process.env[EventsEnv.eventBusName];
  if (!busName) throw new Error(`environment variable ${EventsEnv.eventBusName} is not set`);
  for (const record of event.Records) {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? record.eventID ?? '';
    const linkEvents = eventsForChange(
      record.dynamodb?.OldImage as Parameters<typeof eventsForChange>[0],
      record.dynamodb?.NewImage as Parameters<typeof eventsForChange>[1],
      sequenceNumber,
    );
    const entries: PutEventsRequestEntry[] = linkEvents.map((e) => ({
      EventBusName: busName,
      Source: LINK_EVENT_SOURCE,
      DetailType: e.detailType,
      Detail: JSON.stringify(e.detail),
    }));
    try {
      await putAll(entries);
      for (const e of linkEvents) log({ event: 'published', detailType: e.detailType, id: e.detail.id, eventId: e.detail.eventId });
    } catch (err) {
      log({ event: 'publish-failed', sequenceNumber, error: (err as Error).name, message: (err as Error).message });
      return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
    }
  }
  return { batchItemFailures: [] };
}

async function putAll(entries: PutEventsRequestEntry[]): Promise<void> {
  client ??= new EventBridgeClient({ requestHandler: boundedHttpHandler({ connectionTimeoutMs: 2000, requestTimeoutMs: 5000 }) });
  for (let i = 0; i < entries.length; i += MAX_ENTRIES_PER_CALL) {
    let pending = entries.slice(i, i + MAX_ENTRIES_PER_CALL);
    for (let attempt = 0; pending.length > 0; attempt++) {
      const out = await client.send(new PutEventsCommand({ Entries: pending }));
      // Results come back in request order; an entry with an ErrorCode was not delivered.
      const failed = pending.filter((_, j) => out.Entries?.[j]?.ErrorCode !== undefined);
      if (failed.length > 0 && attempt >= ENTRY_RETRIES) {
        const first = out.Entries?.find((e) => e.ErrorCode !== undefined);
        throw Object.assign(new Error(`${failed.length} link events not delivered: ${first?.ErrorCode} ${first?.ErrorMessage ?? ''}`), { name: 'PutEventsFailed' });
      }
      pending = failed;
    }
  }
}

function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify(fields));
}
