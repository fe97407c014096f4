/**
 * IIIF Authorization Flow API 2.0 (https://iiif.io/api/auth/2.0/): the service descriptions the
 * archive advertises, the probe result, and the access token service's postMessage page. Pure.
 *
 * Endpoints (below the public base URL; the routes are in src/pages/auth/iiif/):
 *   /auth/iiif/probe/image/{imageId}     AuthProbeService2 of an image (its service and full image)
 *   /auth/iiif/probe/manifest/{itemId}   AuthProbeService2 of a manifest
 *   /auth/iiif/login?origin=             AuthAccessService2, profile "active": the archive's sign-in
 *   /auth/iiif/token?messageId=&origin=  AuthAccessTokenService2: postMessage page
 *   /auth/iiif/logout                    AuthLogoutService2
 */
export const AUTH_CONTEXT = 'http://iiif.io/api/auth/2/context.json';

export type LanguageMap = Record<string, string[]>;
export type ProbeKind = 'image' | 'manifest';

export const AUTH_PATH = '/auth/iiif';

export function authUrls(base: string) {
  return {
    login: `${base}${AUTH_PATH}/login`,
    token: `${base}${AUTH_PATH}/token`,
    logout: `${base}${AUTH_PATH}/logout`,
    probe: (kind: ProbeKind, id: string) => `${base}${AUTH_PATH}/probe/${kind}/${encodeURIComponent(id)}`,
  };
}

function hostOf(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return base;
  }
}

const map = (ja: string, en: string): LanguageMap => ({ ja: [ja], en: [en] });

/** The access service (with its token and logout services), shared by every probe. */
export function accessService(base: string): Record<string, unknown> {
  const host = hostOf(base);
  const urls = authUrls(base);
  return {
    id: urls.login,
    type: 'AuthAccessService2',
    profile: 'active',
    label: map(`${host} にサインイン`, `Sign in to ${host}`),
    heading: map('サインインが必要です', 'Sign-in required'),
    note: map(
      `この資料は ${host} の利用を許可された人だけが見られます。新しいタブでサインインしてください。`,
      `Only people allowed into ${host} can see this item. Sign in in the new tab.`,
    ),
    confirmLabel: map('サインイン', 'Sign in'),
    service: [
      {
        id: urls.token,
        type: 'AuthAccessTokenService2',
        errorHeading: map('アクセスできません', 'No access'),
        errorNote: map('サインインを確認できませんでした。', 'The sign-in could not be confirmed.'),
      },
      { id: urls.logout, type: 'AuthLogoutService2', label: map(`${host} からサインアウト`, `Sign out of ${host}`) },
    ],
  };
}

/** The probe service of one image or manifest (embedded without @context: the caller adds AUTH_CONTEXT). */
export function probeService(base: string, kind: ProbeKind, id: string): Record<string, unknown> {
  return {
    id: authUrls(base).probe(kind, id),
    type: 'AuthProbeService2',
    service: [accessService(base)],
    errorHeading: map('見られません', 'Not available'),
    errorNote: map('この資料を見る権限がないか、資料が存在しません。', 'You may not see this item, or it does not exist.'),
  };
}

/** A probe result: `status` is what a request for the resource itself would get. */
export function probeResult(status: 200 | 401 | 404): Record<string, unknown> {
  const out: Record<string, unknown> = { '@context': AUTH_CONTEXT, type: 'AuthProbeResult2', status };
  if (status === 401) {
    out.heading = map('サインインが必要です', 'Sign-in required');
    out.note = map('サインインすると、この資料を見られるか確認できます。', 'Sign in to find out whether you may see this item.');
  } else if (status === 404) {
    out.heading = map('見られません', 'Not available');
    out.note = map('この資料を見る権限がないか、資料が存在しません。', 'You may not see this item, or it does not exist.');
  }
  return out;
}

export type TokenErrorProfile = 'invalidRequest' | 'invalidOrigin' | 'missingAspect' | 'invalidAspect' | 'expiredAspect' | 'unavailable';

const ERROR_TEXT: Record<TokenErrorProfile, [string, string]> = {
  invalidRequest: ['要求が正しくありません', 'The token request is not valid'],
  invalidOrigin: ['このサイトにはトークンを発行できません', 'This site may not receive access tokens'],
  missingAspect: ['サインインしていません', 'You are not signed in'],
  invalidAspect: ['サインインを確認できません', 'Your sign-in could not be verified'],
  expiredAspect: ['サインインの有効期限が切れています', 'Your sign-in has expired'],
  unavailable: ['一時的に利用できません', 'Temporarily unavailable'],
};

export function tokenMessage(messageId: string, accessToken: string, expiresIn: number): Record<string, unknown> {
  return { '@context': AUTH_CONTEXT, type: 'AuthAccessToken2', messageId, accessToken, expiresIn };
}

export function tokenError(messageId: string, profile: TokenErrorProfile): Record<string, unknown> {
  const [ja, en] = ERROR_TEXT[profile];
  return { '@context': AUTH_CONTEXT, type: 'AuthAccessTokenError2', profile, messageId, heading: map(ja, en) };
}

/** JSON that is safe inside an HTML <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A serialised http(s) origin (`scheme://host[:port]`), or undefined. */
export function parseOrigin(value: string | null | undefined): string | undefined {
  if (!value || value.length > 300) return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  return u.origin === value ? u.origin : undefined;
}

/** A client-chosen message id: a short printable string. */
export function validMessageId(value: string | null | undefined): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= 256 && /^[\x20-\x7e]+$/.test(value);
}

/**
 * The access token service's page: posts `message` to the parent window, to `targetOrigin` only.
 * Without a usable origin nothing can be posted (postMessage never goes to '*'): the page says so.
 */
export function tokenPage(message: Record<string, unknown> | undefined, targetOrigin: string | undefined, nonce: string): { html: string; headers: Record<string, string> } {
  const script =
    message && targetOrigin ? `<script nonce="${nonce}">window.parent.postMessage(${scriptJson(message)}, ${scriptJson(targetOrigin)});</script>` : '<p>invalid request</p>';
  const html = `<!doctype html><html><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>IIIF access token</title></head><body>${script}</body></html>`;
  return {
    html,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; frame-ancestors ${targetOrigin ?? "'none'"}`,
      'Referrer-Policy': 'no-referrer',
    },
  };
}
