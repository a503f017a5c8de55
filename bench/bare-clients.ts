// Entry point of the "bare clients" comparison bundle: the two SDK clients the edge
// handler uses, with the same two commands, and nothing of this library. The benchmark
// bundles it with the exact esbuild arguments of the library's edge bundle task.
export { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
export { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
