import { linkPreviewer } from '../../services/link-preview/preview';
import { authedProcedure, router } from '../trpc';
import { ZLinkPreview, ZLinkPreviewInput } from './schemas';

// Link previews for chat messages: OpenGraph metadata fetched server-side (SSRF-guarded, cached).

export const linkPreviewRouter = router({
  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/chat/link-preview',
        tags: ['Chat'],
        summary: 'OpenGraph preview of a URL (cached for 1 hour)',
      },
    })
    .input(ZLinkPreviewInput)
    .output(ZLinkPreview)
    .query(({ input }) => linkPreviewer().preview(input.url)),
});
