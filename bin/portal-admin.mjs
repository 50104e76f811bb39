#!/usr/bin/env node
// `portal-admin`: runs the TypeScript admin CLI through tsx, like `npm run admin --`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
