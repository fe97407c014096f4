import { useEffect, useState } from 'preact/hooks';
import { MAX_COMPARE, onMarkedChange, readMarked, writeMarked } from './compare-state.ts';
import { t, type Lang } from '../lib/i18n/strings.ts';

interface Props {
  id: string;
  title: string;
  lang: Lang;
}

/** A toggle button marking one search result for side-by-side comparison. */
export default function CompareToggle({ id, title, lang }: Props) {
  const [marked, setMarked] = useState(false);
  const [full, setFull] = useState(false);
  useEffect(() => {
    const sync = () => {
      const list = readMarked();
      setMarked(list.some((m) => m.id === id));
      setFull(list.length >= MAX_COMPARE);
    };
    sync();
    return onMarkedChange(sync);
  }, [id]);
  const toggle = () => {
    const list = readMarked();
    writeMarked(list.some((m) => m.id === id) ? list.filter((m) => m.id !== id) : [...list, { id, title }]);
  };
  return (
    <button
      type="button"
      class={marked ? undefined : 'secondary'}
      aria-pressed={marked}
      disabled={!marked && full}
      onClick={toggle}
      data-testid="compare-toggle"
      data-id={id}
>
      <span aria-hidden="true">{marked ? '✓ ' : '+ '}</span>
      {t(lang, 'compare')}
      <span class="sr-only">: {title}</span>
    </button>
  );
}
