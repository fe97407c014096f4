import type { APIRoute } from 'astro';
import { store } from '../../../lib/runtime.ts';
import { jsonError } from '../../../lib/http/json.ts';
import { parseSearchParams } from '../../../lib/search/params.ts';
import { IMAGE_ID_RE } from '../../../lib/domain.ts';
import { CITE_FORMATS, bibKey, exportRecords, type CiteFormat } from '../../../lib/cite/export.ts';
import { MAX_EXPORT, exportContext, searchRecords } from '../../../lib/cite/site.ts';

/**
 * Citation exports: `/api/cite/{id}.{ris,bib,json}` for one item, `/api/cite/search.{ris,bib,json}`
 * with the search page's parameters (q, batch, type, sort) for a result set (at most MAX_EXPORT
 * records, in the search's order). RIS, BibTeX or CSL-JSON, with the persistent URL and today's
 * access date. Items the user may not see are missing, exactly like items that do not exist.
 */
export const GET: APIRoute = async ({ params, url, locals }) => {
  const m = /^(.+)\.(ris|bib|json)$/.exec(params.file ?? '');
  if (!m) return jsonError(404, 'expected /api/cite/{id}.ris, .bib or .json');
  const [, name, ext] = m as unknown as [string, string, CiteFormat];
  const ctx = exportContext(locals.lang ?? 'ja');
  const s = await store();
  let body: string;
  let filename: string;
  const headers: Record<string, string> = { 'Cache-Control': 'private, no-store' };
  if (name === 'search') {
    const req = parseSearchParams(url.searchParams);
    const { records, total } = await searchRecords(s, { q: req.q, filters: req.filters, sort: req.sort });
    body = exportRecords(ext, records, ctx);
    filename = `search.${ext}`;
    headers['X-Total-Count'] = String(total);
    if (total > records.length) headers['X-Export-Truncated'] = `first ${MAX_EXPORT} of ${total}`;
  } else {
    const record = IMAGE_ID_RE.test(name) ? await s.get(name) : null;
    if (!record) return jsonError(404, `no item "${name.slice(0, 140)}"`);
    body = exportRecords(ext, [record], ctx);
    filename = `${bibKey(record.id)}.${ext}`;
  }
  headers['Content-Type'] = CITE_FORMATS[ext].type;
  headers['Content-Disposition'] = `attachment; filename="${filename}"`;
  return new Response(body, { headers });
};
