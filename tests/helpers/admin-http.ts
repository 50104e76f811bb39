import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../src/routers/_app';

// The typed admin router over real HTTP (/trpc), as admin tools other than the CLI call it, with a
// user's Bearer token (or none).

export function trpcAs(server: { url: string }, token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${server.url}/trpc`,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    ],
  });
}

/** The contract's error fields of a refused tRPC call (`{error, status, ...}`). */
export async function trpcRefusal(call: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof TRPCClientError) return err.data as Record<string, unknown>;
    throw err;
  }
  throw new Error('expected the call to be refused');
}
