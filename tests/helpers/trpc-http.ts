import { api } from './identity';

// Typed tRPC procedures that have no REST path (the admin router, `audit.list`), called the way a
// tRPC client does over HTTP: queries as GET with `?input=`, mutations as POST with a JSON body.

export type TrpcResult = {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are loose JSON, checked by the assertions
  data: any;
  /** The error's fields (`error`, `status`, `correlation_id`, ...), as tRPC clients get them in `data`. */
  error?: { message: string; data: Record<string, unknown> };
};

export async function trpc(
  server: { url: string },
  token: string,
  kind: 'query' | 'mutation',
  path: string,
  input?: unknown,
): Promise<TrpcResult> {
  const res =
    kind === 'query'
      ? await api(
          server,
          'GET',
          `/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          { token },
        )
      : await api(server, 'POST', `/trpc/${path}`, { token, body: input ?? {} });
  const body = res.body as { result?: { data: unknown }; error?: TrpcResult['error'] };
  return { status: res.status, data: body.result?.data, ...(body.error && { error: body.error }) };
}
