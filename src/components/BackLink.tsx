import { useEffect, useState } from 'preact/hooks';

const KEY = 'archive.lastSearch';

/**
 * Remembers the search the user came from (query, filters, page): the search page renders it with
 * `remember`, other pages render the link back, which returns to that search instead of an empty
 * one. Kept in sessionStorage (per tab). Without it, or before hydration, the link goes to "/".
 */
export default function BackLink({ label, remember = false }: { label?: string; remember?: boolean }) {
  const [href, setHref] = useState('/');
  useEffect(() => {
    try {
      if (remember) {
        const p = new URLSearchParams(location.search);
        p.delete('lang');
        const qs = p.toString();
        sessionStorage.setItem(KEY, qs ? `/?${qs}` : '/');
        return;
      }
      const saved = sessionStorage.getItem(KEY);
      if (saved && saved.startsWith('/') && !saved.startsWith('//')) setHref(saved);
    } catch {
      // Storage disabled: the plain link to the search page stays.
    }
  }, [remember]);
  if (remember) return null;
  return (
    <a href={href} data-testid="back-link">
      ← {label}
    </a>
  );
}
