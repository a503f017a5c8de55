import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** An AWS SDK error, with the fields the emulator tests read. */
export type SdkError = Error & {
  $metadata?: { httpStatusCode?: number; attempts?: number };
  code?: string;
  /** ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure: ALL_OLD. */
  Item?: Record<string, AttributeValue>;
};

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the promise to reject');
}
