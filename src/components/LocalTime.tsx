import { useEffect, useState } from 'preact/hooks';
import { localTime } from '../lib/admin/overview.ts';

/**
 * A time the server rendered in its own zone (named), re-rendered in the reader's zone once the
 * page runs: staff see local times without the server knowing where they are.
 */
export default function LocalTime({ iso, lang, initial }: { iso: string; lang: 'ja' | 'en'; initial: string }) {
  const [text, setText] = useState(initial);
  useEffect(() => setText(localTime(iso, lang)), [iso, lang]);
  return <time datetime={iso}>{text}</time>;
}
