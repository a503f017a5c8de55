export * from './link-signing';
export * from './one-time-presigned-distribution';
