import type { AnyRouter } from '@trpc/server';
import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';

type SchemaObject = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string];

const DESCRIPTION = `Portal's REST surface, generated from its tRPC routers (the single source of truth).
Every error is \`{"error": "<message>", "status": <code>, "correlation_id": "<uuid>"}\`, plus
\`reason\`/\`expires_at\` on structured 403s. Rate limits are reported in X-RateLimit-* headers.`;

// The contract's error body, documented once and referenced by every error response.
const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['error', 'status', 'correlation_id'],
  properties: {
    error: { type: 'string', description: 'Human-readable message; internal details are never exposed' },
    status: { type: 'integer', description: 'HTTP status code' },
    correlation_id: { type: 'string', format: 'uuid', description: 'Matches the server log line' },
    reason: { type: 'string', description: 'Moderation reason (structured 403s)' },
    expires_at: { type: 'string', description: 'ISO 8601 UTC end of a timeout' },
  },
};

export function buildOpenApiDocument(appRouter: AnyRouter, version: string): OpenAPIObject {
  const doc = generateOpenApiDocument(appRouter, {
    title: 'Portal API',
    description: DESCRIPTION,
    version,
    baseUrl: '/',
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'Session token, JWT from /api/token, or portal_ API key',
      },
      cookie: { type: 'apiKey', in: 'cookie', name: 'portal_session' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'Bot API key' },
    },
  });
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, Error: ERROR_SCHEMA } };
  // trpc-to-openapi documents its own error shape; ours is rewritten by the REST layer.
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, { responses?: Record<string, unknown> }>)) {
      if (!op || typeof op !== 'object' || !op.responses) continue;
      for (const [status, response] of Object.entries(op.responses)) {
        if (status.startsWith('2')) continue;
        const r = response as { description?: string; content?: unknown };
        op.responses[status] = {
          description: r.description ?? 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        };
      }
    }
  }
  return doc;
}
