export * from './common';
export * from './sigv4';
export * from './dynamodb';
export * from './aws-json';
export * from './s3';
export * from './identities';
export * from './bucket-policy';
