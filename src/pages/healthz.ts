import type { APIRoute } from 'astro';
import { json } from '../lib/http/json.ts';

/** Liveness: the process answers. Nothing else is checked (see /readyz). */
export const GET: APIRoute = () => json({ status: 'ok' }, { headers: { 'Cache-Control': 'no-store' } });
