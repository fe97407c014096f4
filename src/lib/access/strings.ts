/** UI strings of the sign-in, sign-out and header elements (Japanese and English). */
import type { Lang } from '../i18n/strings.ts';

const STRINGS = {
  signedInAs: { ja: 'サインイン中', en: 'Signed in as' },
  signOut: { ja: 'サインアウト', en: 'Sign out' },
  loginTitle: { ja: 'IIIF ビューアーへのサインイン', en: 'Sign in for IIIF viewers' },
  loginSignedIn: { ja: 'このアーカイブにサインインしています:', en: 'You are signed in to this archive as' },
  loginAnonymous: { ja: 'このアーカイブはサインインなしで利用できます（ACCESS_MODE=none）。', en: 'This archive needs no sign-in (ACCESS_MODE=none).' },
  loginLevels: { ja: '見られる資料の公開区分', en: 'Access levels you may see' },
  loginReturn: { ja: '続けるとこのタブを閉じ、次のサイトのビューアーに戻ります:', en: 'Continuing closes this tab and returns you to the viewer at' },
  loginOriginRefused: {
    ja: 'このサイトはアクセストークンを受け取れません（IIIF_AUTH_ORIGINS に含まれていません）:',
    en: 'This site may not receive access tokens (it is not in IIIF_AUTH_ORIGINS):',
  },
  loginContinue: { ja: '続ける', en: 'Continue' },
  loginNoOpener: { ja: 'このタブは閉じてかまいません。', en: 'You may close this tab.' },
  loggedOutTitle: { ja: 'サインアウトしました', en: 'Signed out' },
  loggedOutText: {
    ja: 'IIIF ビューアーに発行したアクセストークンを無効にしました。認証プロキシのセッションを終えるには、ブラウザーを閉じてください。',
    en: 'The access tokens issued to IIIF viewers are revoked. Close the browser to end the authenticating proxy’s session.',
  },
  level_open: { ja: '公開', en: 'open' },
  level_members: { ja: '会員', en: 'members' },
  level_staff: { ja: '職員', en: 'staff' },
} as const;

export type AccessStringKey = keyof typeof STRINGS;

export function accessText(lang: Lang, key: AccessStringKey): string {
  return STRINGS[key][lang];
}
