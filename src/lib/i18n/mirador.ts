/**
 * Mirador strings its own Japanese table leaves in English (Mirador 4.0: `pagination` is
 * "{{current}} of {{total}}" in ja, and the `_other` plural forms are missing), passed to
 * `Mirador.viewer({ translations })`. Only keys Mirador lacks or gets wrong are here.
 */
export const MIRADOR_TRANSLATIONS = {
  ja: {
    pagination: '{{current}} / {{total}}',
    numItems_other: '{{number}} アイテム',
    showingNumAnnotations_other: 'アノテーション {{number}} を表示',
    totalCollections_other: '{{count}} コレクション',
    totalManifests_other: '{{count}} マニフェスト',
    searchResultsRemaining: 'あと {{numLeft}} 件',
    iiif_related: '関連',
    multipartCollection: '複数部分からなるコレクション',
    viewWorkspaceConfiguration: 'ワークスペースの設定を表示',
    layer_moveToBackground: 'レイヤーを最背面へ',
    layer_moveToFront: 'レイヤーを最前面へ',
  },
} as const;
