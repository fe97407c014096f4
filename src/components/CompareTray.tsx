import { useEffect, useState } from 'preact/hooks';
import { onMarkedChange, readMarked, viewUrl, writeMarked, type Marked } from './compare-state.ts';
import { t, type Lang } from '../lib/i18n/strings.ts';

/** The selection bar: what is marked, a link to the comparison workspace, and a reset. */
export default function CompareTray({ lang }: { lang: Lang }) {
  const [list, setList] = useState<Marked[]>([]);
  useEffect(() => {
    const sync = () => setList(readMarked());
    sync();
    return onMarkedChange(sync);
  }, []);
  return (
    <div class="tray" role="region" aria-label={t(lang, 'compare')} aria-live="polite">
      {list.length === 0 ? (
        <span>{t(lang, 'compareNone')}</span>
      ) : (
        <>
          <span>
            {t(lang, 'compare')}: {list.map((m) => m.title).join(' / ')}
          </span>
          <a class="button" href={viewUrl(list)} data-testid="compare-open">
            {t(lang, 'compareOpen')} ({list.length})
          </a>
          <button type="button" class="secondary" onClick={() => writeMarked([])}>
            {t(lang, 'compareClear')}
          </button>
        </>
      )}
    </div>
  );
}
