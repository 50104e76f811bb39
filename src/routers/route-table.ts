import type { AnyRouter } from '@trpc/server';
import type { RateTier } from '../core/rate-limit';
import type { Meta } from './trpc';

type RestRoute = {
  method: string;
  regex: RegExp;
  literalSegments: number;
  tier: RateTier;
  procedure: string;
};

export type RouteClass = { tier: RateTier; procedure: string | null };

const UNROUTED: RouteClass = { tier: 'PUBLIC', procedure: null };

/**
 * Which procedure (and so which rate tier) a request will reach, read from the routers' own meta
 * so REST paths, /trpc calls and tiers never drift apart. Unknown paths count as PUBLIC.
 */
export type ExtraRoute = { method: string; path: string; tier: RateTier };

export function buildRouteTable(appRouter: AnyRouter, extra: readonly ExtraRoute[] = []) {
  const procedures = appRouter._def.procedures as Record<string, { _def: { meta?: Meta } }>;
  const tiers = new Map<string, RateTier>();
  const rest: RestRoute[] = [];
  const addRest = (method: string, path: string, tier: RateTier, procedure: string) => {
    const segments = path.split('/').filter(Boolean);
    const pattern = segments
      // `{name+}` (last segment only) stands for one or more segments: a path with slashes.
      .map((s) =>
        /^\{.+\+\}$/.test(s) ? '.+' : /^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    rest.push({
      method,
      regex: new RegExp(`^/${pattern}/?$`),
      literalSegments: segments.filter((s) => !s.startsWith('{')).length,
      tier,
      procedure,
    });
  };
  for (const [procedure, def] of Object.entries(procedures)) {
    const meta = def._def.meta;
    const tier = meta?.rateTier ?? 'PUBLIC';
    tiers.set(procedure, tier);
    const openapi = meta?.openapi;
    if (!openapi || openapi.enabled === false) continue;
    addRest(openapi.method, openapi.path, tier, procedure);
  }
  // Non-RPC handlers of src/rest (binary bodies, streams) declare their own tier.
  for (const route of extra) addRest(route.method, route.path, route.tier, `rest:${route.path}`);
  // /users/me must win over /users/{id}, as it does in the REST router.
  rest.sort((a, b) => b.literalSegments - a.literalSegments);

  return {
    classify(method: string, path: string): RouteClass {
      if (path.startsWith('/trpc/')) {
        const first = decodeURIComponent(path.slice('/trpc/'.length)).split(',')[0] ?? '';
        const tier = tiers.get(first);
        return tier ? { tier, procedure: first } : UNROUTED;
      }
      const upper = method.toUpperCase();
      const route = rest.find((r) => r.method === upper && r.regex.test(path));
      return route ? { tier: route.tier, procedure: route.procedure } : UNROUTED;
    },
  };
}

export type RouteTable = ReturnType<typeof buildRouteTable>;
