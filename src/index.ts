export * from './one-time-presigned-distribution';
