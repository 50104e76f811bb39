import { z } from 'zod';

// GET /api/chat/link-preview?url= (API.md §8, seed 002).

export const ZLinkPreviewInput = z.object({
  url: z
    .string()
    .trim()
    .min(1)
    .max(2048)
    .refine((value) => {
      try {
        const { protocol } = new URL(value);
        return protocol === 'http:' || protocol === 'https:';
      } catch {
        return false;
      }
    }, 'url must be a valid http or https URL')
    .describe('The page to preview (http or https)'),
});

const nullableText = (description: string) => z.string().nullable().describe(description);

export const ZLinkPreview = z.object({
  url: z.string().describe('The previewed URL (normalized, without #fragment)'),
  title: nullableText('og:title, else <title> (at most 300 characters)'),
  description: nullableText('og:description, else meta description (at most 1000 characters)'),
  image: nullableText('og:image as an absolute http(s) URL'),
  site_name: nullableText('og:site_name'),
});
