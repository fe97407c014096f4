/**
 * UI strings in Japanese and English, and the language negotiation rule. Pure data + lookups.
 */
export type Lang = 'ja' | 'en';
export const LANGS: readonly Lang[] = ['ja', 'en'];

const STRINGS = {
  siteTitle: { ja: '非公開画像アーカイブ', en: 'Private Image Archive' },
  siteTagline: { ja: '公開せずに公開する — 許可された人のための IIIF', en: 'Publishing without publishing — IIIF for the people allowed in' },
  search: { ja: '検索', en: 'Search' },
  searchLabel: { ja: 'キーワード（漢字は1文字から、かな・英数字は2文字以上）', en: 'Keywords (a single kanji, or two or more kana, letters or digits)' },
  searchPlaceholder: { ja: '例: 東京、祭礼、harbour', en: 'e.g. 東京, 祭礼, harbour' },
  results: { ja: '件', en: 'results' },
  resultsFor: { ja: '検索結果', en: 'Results' },
  allItems: { ja: 'すべての資料', en: 'All items' },
  noResults: { ja: '該当する資料はありません。', en: 'No items match.' },
  tooShort: {
    ja: '1文字のかな・英数字では検索できません。2文字以上で検索してください（漢字は1文字でも検索できます）',
    en: 'A single kana, letter or digit cannot be searched; please use two or more (a single kanji is fine)',
  },
  queryTooLong: {
    ja: '検索語が長すぎます。短くして検索してください（途中で切って検索することはしません）',
    en: 'The query is too long; please shorten it (it is not cut and searched in part)',
  },
  ignoredTerms: { ja: '短すぎて無視した語', en: 'Ignored (too short)' },
  batch: { ja: '納品回', en: 'Batch' },
  type: { ja: '資料種別', en: 'Type' },
  // Dates (issue 15.4): the year filter, the decade facet, the date sorts.
  years: { ja: '年代', en: 'Date' },
  yearFrom: { ja: '年から（西暦・和暦: 1923、大正、昭和10年、S10）', en: 'From year (Western or Japanese era: 1923, 大正, 昭和10年, S10)' },
  yearTo: { ja: '年まで', en: 'To year' },
  yearsUnreadable: { ja: '年として読めない入力は無視しました', en: 'Not read as a year (ignored)' },
  decade: { ja: '年代別', en: 'Decade' },
  decadeLabel: { ja: '年代', en: 's' },
  sortLabel: { ja: '並べ替え', en: 'Sort' },
  sortRelevance: { ja: '関連度順', en: 'Relevance' },
  sortOldest: { ja: '古い順', en: 'Oldest first' },
  sortNewest: { ja: '新しい順', en: 'Newest first' },
  sortId: { ja: '資料番号順', en: 'Identifier' },
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
  // Citations export, loading states, compare limits, paging and 404 (issue 19 / 15.6).
  citeImage: { ja: 'この画像の引用', en: 'Cite this image' },
  exportCitation: { ja: '文献管理ソフト用に書き出す', en: 'Export for reference managers' },
  exportResults: { ja: 'この検索結果の引用情報を書き出す', en: 'Export these results for reference managers' },
  image: { ja: '画像', en: 'image' },
  loading: { ja: '読み込み中…', en: 'Loading…' },
  compareFull: {
    ja: '並べて比較できるのは最大 8 件です（画面が狭くなりすぎるため）。追加するには、どれかを外してください。',
    en: 'At most 8 items can be compared side by side (more would be too small to see); remove one to add another.',
  },
  compareCount: { ja: '件選択中（最大 8 件）', en: 'selected (at most 8)' },
  pageBeyond: { ja: 'このページに結果はありません。最後のページは', en: 'There are no results on this page. The last page is' },
  pageNotFound: { ja: 'ページが見つかりません', en: 'Page not found' },
  pageNotFoundText: { ja: 'このアドレスのページはありません。アドレスを確かめるか、検索から探してください。', en: 'There is no page at this address. Check the address, or find what you need by searching.' },
  home: { ja: 'トップへ', en: 'Home' },
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
  logoutConfirmTitle: { ja: 'サインアウトしますか？', en: 'Sign out?' },
  logoutConfirmText: {
    ja: 'IIIF ビューアーに発行したアクセストークンを無効にし、このブラウザーに保存された非公開の画像とデータを消去します。',
    en: 'This revokes the access tokens issued to IIIF viewers and clears the private images and data this browser has kept.',
  },
  logoutConfirmButton: { ja: 'サインアウト', en: 'Sign out' },
  level_open: { ja: '公開', en: 'open' },
  level_members: { ja: '会員', en: 'members' },
  level_staff: { ja: '職員', en: 'staff' },
  // The staff page for grants and the audit trail (src/pages/admin/access.astro).
  acc_title: { ja: '閲覧許可と監査記録', en: 'Access grants and audit' },
  acc_rules: { ja: '起動時の規則（ACCESS_RULES、読み取り専用）', en: 'Start-up rules (ACCESS_RULES, read-only)' },
  acc_rulesNone: { ja: '規則はありません', en: 'No rules' },
  acc_add: { ja: '許可を追加', en: 'Add a grant' },
  acc_pattern: { ja: '対象（メールアドレス、*@ドメイン、サービストークンID）', en: 'Who (address, *@domain, or service token id)' },
  acc_level: { ja: '公開区分', en: 'Level' },
  acc_from: { ja: '開始日（任意）', en: 'From (optional)' },
  acc_until: { ja: '終了日（任意、この日の0時UTCまで）', en: 'Until (optional, to 00:00 UTC of that day)' },
  acc_reason: { ja: '理由（閲覧申請など）', en: 'Reason (e.g. the research request)' },
  acc_submitAdd: { ja: '追加する', en: 'Add' },
  acc_grants: { ja: '保存された許可', en: 'Stored grants' },
  acc_none: { ja: 'ありません', en: 'None' },
  acc_status: { ja: '状態', en: 'Status' },
  acc_status_active: { ja: '有効', en: 'active' },
  acc_status_future: { ja: '開始前', en: 'future' },
  acc_status_expired: { ja: '期限切れ', en: 'expired' },
  acc_status_revoked: { ja: '取り消し済み', en: 'revoked' },
  acc_grantedBy: { ja: '許可した人', en: 'Granted by' },
  acc_extend: { ja: '期限を変更', en: 'Extend' },
  acc_revoke: { ja: '取り消す', en: 'Revoke' },
  acc_usage: { ja: '利用記録', en: 'Use' },
  acc_preview: { ja: 'このアドレスで見えるもの', en: 'What this address would see' },
  acc_previewButton: { ja: '確認', en: 'Preview' },
  acc_previewResult: { ja: '公開区分と閲覧できる資料数', en: 'Level and items it opens' },
  acc_items: { ja: '資料', en: 'items' },
  acc_restricted: { ja: 'うち限定公開', en: 'of them restricted' },
  acc_viaGrant: { ja: '許可による', en: 'through grant' },
  acc_audit: { ja: '監査記録', en: 'Audit trail' },
  acc_itemAudit: { ja: '資料ごとの閲覧者', en: 'Who consulted an item' },
  acc_grantAudit: { ja: 'この許可による閲覧', en: 'What this grant was used for' },
  acc_changes: { ja: '最近の許可の変更', en: 'Recent grant changes' },
  acc_show: { ja: '表示', en: 'Show' },
  acc_when: { ja: '日時', en: 'When' },
  acc_who: { ja: '誰が', en: 'Who' },
  acc_what: { ja: '内容', en: 'What' },
  acc_kind: { ja: '種類', en: 'Kind' },
  acc_csv: { ja: 'CSV で書き出す', en: 'Export as CSV' },
  acc_saved: { ja: '保存しました', en: 'Saved' },
  acc_badForm: { ja: 'フォームの有効期限が切れたか、別のサイトから送信されました。再読み込みしてください。', en: 'The form has expired or came from another site. Please reload the page.' },
  acc_noStore: { ja: 'このストアは許可を保存できません。', en: 'This store keeps no grants.' },
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

/** "1 image", "3 images", "3 画像": a count with its noun in the page's language. */
export function countOf(lang: Lang, n: number, key: 'image' = 'image'): string {
  const num = new Intl.NumberFormat(lang === 'ja' ? 'ja-JP' : 'en-GB').format(n);
  if (lang === 'ja') return `${num} ${STRINGS[key].ja}`;
  return `${num} ${STRINGS[key].en}${n === 1 ? '' : 's'}`;
}

/** The record's text in the wanted language, falling back to the other one. */
export function pick(text: { ja?: string; en?: string } | undefined, lang: Lang): string {
  if (!text) return '';
  return (lang === 'en' ? text.en || text.ja : text.ja || text.en) ?? '';
}

/** Like pick(), with the language the chosen text is in (for `lang` attributes). */
export function pickLang(text: { ja?: string; en?: string } | undefined, lang: Lang): { text: string; lang: Lang } | undefined {
  const order: Lang[] = lang === 'en' ? ['en', 'ja'] : ['ja', 'en'];
  for (const l of order) if (text?.[l]) return { text: text[l]!, lang: l };
  return undefined;
}
