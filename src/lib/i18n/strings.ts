/**
 * UI strings in Japanese and English, and the language negotiation rule. Pure data + lookups.
 */
export type Lang = 'ja' | 'en';
export const LANGS: readonly Lang[] = ['ja', 'en'];

const STRINGS = {
  siteTitle: { ja: '非公開画像アーカイブ', en: 'Private Image Archive' },
  siteTagline: { ja: '公開せずに公開する — 許可された人のための IIIF', en: 'Publishing without publishing — IIIF for the people allowed in' },
  search: { ja: '検索', en: 'Search' },
  searchLabel: { ja: 'キーワード（2文字以上）', en: 'Keywords (two or more characters)' },
  searchPlaceholder: { ja: '例: 東京、祭礼、harbour', en: 'e.g. 東京, 祭礼, harbour' },
  results: { ja: '件', en: 'results' },
  resultsFor: { ja: '検索結果', en: 'Results' },
  allItems: { ja: 'すべての資料', en: 'All items' },
  noResults: { ja: '該当する資料はありません。', en: 'No items match.' },
  tooShort: {
    ja: '2文字以上で検索してください（1文字の語は検索できません）',
    en: 'Please search with two or more characters (one-character terms cannot be searched)',
  },
  ignoredTerms: { ja: '短すぎて無視した語', en: 'Ignored (too short)' },
  batch: { ja: '納品回', en: 'Batch' },
  type: { ja: '資料種別', en: 'Type' },
  clearFilters: { ja: '絞り込みを解除', en: 'Clear filters' },
  filters: { ja: '絞り込み', en: 'Filters' },
  prev: { ja: '前へ', en: 'Previous' },
  next: { ja: '次へ', en: 'Next' },
  page: { ja: 'ページ', en: 'Page' },
  compare: { ja: '比較', en: 'Compare' },
  compareAdd: { ja: '比較に追加', en: 'Add to comparison' },
  compareRemove: { ja: '比較から外す', en: 'Remove from comparison' },
  compareOpen: { ja: '並べて比較', en: 'Compare side by side' },
  compareClear: { ja: '選択を解除', en: 'Clear selection' },
  compareNone: { ja: '比較する資料を選んでください', en: 'Mark items to compare them' },
  pages: { ja: '画像', en: 'images' },
  id: { ja: '資料番号', en: 'Identifier' },
  title: { ja: '題名', en: 'Title' },
  creator: { ja: '撮影者・作成者', en: 'Creator' },
  date: { ja: '年代', en: 'Date' },
  place: { ja: '撮影地', en: 'Place' },
  description: { ja: '解説', en: 'Description' },
  subjects: { ja: 'キーワード', en: 'Subjects' },
  collection: { ja: 'コレクション', en: 'Collection' },
  rights: { ja: '権利', en: 'Rights' },
  notes: { ja: '備考', en: 'Notes' },
  access: { ja: '公開区分', en: 'Access' },
  persistentUrl: { ja: '固定URL', en: 'Persistent URL' },
  manifestUrl: { ja: 'IIIFマニフェスト', en: 'IIIF manifest' },
  copy: { ja: 'コピー', en: 'Copy' },
  copied: { ja: 'コピーしました', en: 'Copied' },
  back: { ja: '検索に戻る', en: 'Back to search' },
  viewer: { ja: 'ビューア', en: 'Viewer' },
  comparison: { ja: '比較ビュー', en: 'Comparison' },
  viewEmpty: {
    ja: '表示する資料がありません。検索結果で「比較に追加」を選んでください。',
    en: 'Nothing to show. Mark items with “Add to comparison” in the search results.',
  },
  unknownItems: { ja: '見つからない資料', en: 'Items not found' },
  notFound: { ja: '見つかりません', en: 'Not found' },
  notFoundText: { ja: 'この資料は存在しないか、閲覧できません。', en: 'This item does not exist or you may not view it.' },
  language: { ja: 'English', en: '日本語' },
  thumbnailOf: { ja: 'サムネイル', en: 'Thumbnail' },
  skipToContent: { ja: '本文へ移動', en: 'Skip to content' },
  openCollection: { ja: 'この検索結果をIIIFビューアで開く', en: 'Open these results in a IIIF viewer' },
  collectionUrl: { ja: 'IIIFコレクション', en: 'IIIF Collection' },
  citeThis: { ja: 'この資料の引用', en: 'Cite this item' },
  badLink: { ja: 'このリンクは開けません', en: 'This link cannot be opened' },
  copyView: { ja: 'この表示へのリンクをコピー', en: 'Copy link to this view' },
  copyWindow: { ja: 'このウィンドウへのリンクをコピー', en: 'Copy link to this window' },
  linkToView: { ja: '表示中の状態へのリンク', en: 'Link to what is shown' },
  window: { ja: 'ウィンドウ', en: 'Window' },
  // Viewers: citable links, linked views, the comparison's add-from-selection (src/components/MiradorViewer.tsx).
  csTooLong: { ja: 'リンクが長すぎます。', en: 'The link is too long.' },
  csDamaged: {
    ja: 'リンクが壊れています（文字が欠けているか変わっています）。もう一度コピーしてください。',
    en: 'The link is damaged (characters are missing or changed). Please copy it again.',
  },
  csNothing: { ja: 'リンクに表示できる資料が含まれていません。', en: 'The link names nothing that can be shown.' },
  onlyOwnCollections: { ja: 'このアーカイブのコレクションだけを開けます。', en: 'Only this archive’s collections can be opened.' },
  copyContentState: { ja: 'IIIF Content State リンクをコピー', en: 'Copy IIIF Content State link' },
  linkViews: { ja: '表示を連動', en: 'Link views' },
  linkRelative: { ja: '同じ相対位置', en: 'Same relative area' },
  linkAbsolute: { ja: '同じピクセル位置', en: 'Same pixels' },
  linkModeLabel: { ja: '連動の方法', en: 'How views follow' },
  viewerLoading: { ja: 'ビューアーを読み込んでいます…', en: 'Loading the viewer…' },
  itemPage: { ja: '資料ページ', en: 'Item page' },
  addToView: { ja: 'この比較に追加', en: 'Add to this comparison' },
  selectionNotShown: { ja: '選択中でまだ表示していない資料', en: 'Selected but not shown' },
  // Sign-in, sign-out and the IIIF Authorization Flow pages (src/pages/auth).
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
} as const satisfies Record<string, Record<Lang, string>>;

export type StringKey = keyof typeof STRINGS;

export function t(lang: Lang, key: StringKey): string {
  return STRINGS[key][lang];
}

/** Field labels as IIIF language maps, for manifest metadata. */
export function labelMap(key: StringKey): { ja: string[]; en: string[] } {
  return { ja: [STRINGS[key].ja], en: [STRINGS[key].en] };
}

/**
 * Picks the UI language: an explicit choice (query parameter or cookie) wins, then the first
 * supported language in Accept-Language by q-value, then Japanese.
 */
export function negotiateLang(explicit: string | null | undefined, acceptLanguage: string | null | undefined): Lang {
  if (explicit === 'ja' || explicit === 'en') return explicit;
  const prefs = (acceptLanguage ?? '')
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const weight = q ? Number(q.slice(2)) : 1;
      return { tag: (tag ?? '').toLowerCase(), q: Number.isFinite(weight) ? weight : 0, i };
    })
    .filter((p) => p.tag && p.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const p of prefs) {
    const base = p.tag.split('-')[0];
    if (base === 'ja' || base === 'en') return base;
  }
  return 'ja';
}

/** The record's text in the wanted language, falling back to the other one. */
export function pick(text: { ja?: string; en?: string } | undefined, lang: Lang): string {
  if (!text) return '';
  return (lang === 'en' ? text.en || text.ja : text.ja || text.en) ?? '';
}
