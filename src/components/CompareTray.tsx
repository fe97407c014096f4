import { useEffect, useState } from 'preact/hooks';
import { MAX_COMPARE, onMarkedChange, readMarked, viewUrl, writeMarked, type Marked } from './compare-state.ts';
import { t, type Lang } from '../lib/i18n/strings.ts';

/**
 * The selection bar: how many are marked (of at most MAX_COMPARE), their titles on one line (the
 * full list in a tooltip and for screen readers), a link to the comparison workspace, and a reset.
 * One line high on a phone; when full it says why no more can be added.
 */
export default function CompareTray({ lang }: { lang: Lang }) {
  const [list, setList] = useState<Marked[] | null>(null);
  useEffect(() => {
    const sync = () => setList(readMarked());
    sync();
    return onMarkedChange(sync);
  }, []);
  if (list === null) {
    return (
      <div class="tray" role="region" aria-label={t(lang, 'compare')} aria-busy="true" data-testid="compare-tray">
        <span class="meta">{t(lang, 'loading')}</span>
      </div>
    );
  }
  const titles = list.map((m) => m.title).join(' / ');
  return (
    <div class="tray" role="region" aria-label={t(lang, 'compare')} aria-live="polite" data-testid="compare-tray">
      {list.length === 0 ? (
        <span>{t(lang, 'compareNone')}</span>
      ) : (
        <>
          <span class="tray-count" data-testid="compare-count">
            {list.length} {t(lang, 'compareCount')}
          </span>
          <span class="tray-titles" title={titles}>
            {titles}
          </span>
          <a class="button" href={viewUrl(list)} data-testid="compare-open">
            {t(lang, 'compareOpen')} ({list.length})
          </a>
          <button type="button" class="secondary" onClick={() => writeMarked([])}>
            {t(lang, 'compareClear')}
          </button>
          {list.length >= MAX_COMPARE && (
            <p class="tray-full" data-testid="compare-full">
              {t(lang, 'compareFull')}
            </p>
          )}
        </>
      )}
    </div>
  );
}
