import { useEffect, useState } from 'preact/hooks';
import { MAX_COMPARE, onMarkedChange, readMarked, writeMarked } from './compare-state.ts';
import { t, type Lang } from '../lib/i18n/strings.ts';

interface Props {
  id: string;
  title: string;
  lang: Lang;
}

/**
 * A toggle button marking one item (a search result, or the item page's own) for side-by-side
 * comparison. Until hydrated it is shown busy and disabled; when MAX_COMPARE items are marked,
 * the others' buttons are disabled and say why (visible title + the tray's note).
 */
export default function CompareToggle({ id, title, lang }: Props) {
  const [ready, setReady] = useState(false);
  const [marked, setMarked] = useState(false);
  const [full, setFull] = useState(false);
  useEffect(() => {
    const sync = () => {
      const list = readMarked();
      setMarked(list.some((m) => m.id === id));
      setFull(list.length >= MAX_COMPARE);
    };
    sync();
    setReady(true);
    return onMarkedChange(sync);
  }, [id]);
  const toggle = () => {
    const list = readMarked();
    writeMarked(list.some((m) => m.id === id) ? list.filter((m) => m.id !== id) : [...list, { id, title }]);
  };
  const refused = ready && !marked && full;
  return (
    <button
      type="button"
      class={marked ? undefined : 'secondary'}
      aria-pressed={marked}
      aria-busy={!ready}
      disabled={!ready || refused}
      title={refused ? t(lang, 'compareFull') : undefined}
      onClick={toggle}
      data-testid="compare-toggle"
      data-id={id}
    >
      <span aria-hidden="true">{marked ? '✓ ' : '+ '}</span>
      {t(lang, 'compare')}
      <span class="sr-only">: {title}{refused ? ` — ${t(lang, 'compareFull')}` : ''}</span>
    </button>
  );
}
