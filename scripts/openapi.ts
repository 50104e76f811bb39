import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readPackageVersion } from '../src/core/source-hash';
import { buildOpenApiDocument } from '../src/rest/openapi-document';
import { appRouter } from '../src/routers/_app';

// `npm run openapi` regenerates openapi/openapi.json from the routers; `--check` fails on drift.
const target = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));
const text = `${JSON.stringify(buildOpenApiDocument(appRouter, readPackageVersion()), null, 2)}\n`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // Missing counts as drift.
  }
  if (current !== text) {
    console.error(
      'openapi/openapi.json is out of date with the routers: run `npm run openapi` and commit it.',
    );
    process.exit(1);
  }
  console.log('openapi/openapi.json matches the routers');
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
