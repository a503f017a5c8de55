// Lambda and Lambda@Edge hand a function its role credentials in environment variables,
// so the bundles swap the SDK's default chain (SSO, INI files, IMDS, web identity, ...)
// for the environment provider alone (esbuild alias in .projenrc.ts): smaller, faster
// to load, and one place fewer to look for credentials.
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider: typeof fromEnv = (init) => fromEnv(init);
