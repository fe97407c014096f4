/**
 * The normalize stage: raw deliveries (read-only) → the clean tree (symlinks only) + meta.json.
 *
 * Every drift of a delivery is absorbed here, by the rules in rules.ts; `index` and `sync` only
 * ever see the clean tree:
 *
 *   <clean root>/<batch>/<image file name>          symlink → the delivered image
 *   <clean root>/<batch>/bibliography/<file.xlsx>   symlink → the chosen bibliography of a category
 *   <clean root>/<batch>/meta.json                  what was chosen, dropped and ignored, and why
 *
 * A delivery root holds batch folders (any depth up to `batch.searchDepth`, or the root itself is
 * one). A folder whose name matches a batch pattern is a batch *source*; several sources may map
 * to one batch (a re-delivery): their files are merged, a later source (later date in its name,
 * else later path) replacing an earlier one's file of the same name. Classification subfolders
 * inside a source are flattened: images are linked by file name. Two files of one source with the
 * same name are a conflict (the first by path is linked, the problem reported).
 *
 * Incremental and idempotent: the sources of a batch are remembered in its meta.json, so running
 * on a new delivery alone keeps what earlier deliveries contributed; the clean batch folder is
 * then made equal to the desired state by adding, replacing (atomically, by rename) and removing
 * symlinks only — regular files are never touched — and meta.json is rewritten only when its
 * content changes. Running twice on the same input changes nothing, byte for byte.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compareBatchIds, compileRules, extensionOf, type CompiledRules, type ParsedBatch } from './rules.ts';
import { sheetStates } from './sheets.ts';

export interface NormalizeOptions {
  /** Delivery roots (absolute or relative to the process cwd); read only. */
  deliveries: string[];
  /** The clean tree (IMAGE_ROOT). */
  cleanRoot: string;
  rules?: CompiledRules;
  /** Plan and report, write nothing. */
  dryRun?: boolean;
  /** Called as files are scanned and links written. */
  onProgress?: (p: NormalizeProgress) => void;
}

export interface NormalizeProgress {
  phase: 'scan' | 'write';
  done: number;
  total?: number;
}

export interface LinkCounts {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
}

export interface BatchReport {
  batch: string;
  /** Source folders (absolute), in the order they were merged. */
  sources: string[];
  images: number;
  spreadsheets: Array<{ category: string; role: string; file: string }>;
  links: LinkCounts;
  dropped: number;
  ignored: number;
  /** meta.json was (or, in a dry run, would be) written. */
  metaChanged: boolean;
  /** Things left undone (exit code 1): conflicts, ties, unreadable formats, blocked links. */
  problems: string[];
  /** False when the batch was left as it was because of a problem (e.g. a recorded source is gone). */
  written: boolean;
}

export interface NormalizeReport {
  batches: BatchReport[];
  /** Delivery-level problems: unrecognised folders holding images or spreadsheets, loose files. */
  problems: string[];
  /** Files looked at. */
  files: number;
  dryRun: boolean;
  totals: LinkCounts;
}

export class NormalizeError extends Error {}

// ------------------------------------------------------------------------------------------------
// meta.json

export interface BatchMeta {
  batch: string;
  /** Hash of the rules that produced this tree. */
  rules: string;
  sources: Array<{ path: string; folder: string; rule: string; round: number; sub?: number; date?: string }>;
  spreadsheets: Array<{
    category: string;
    /** Link below the batch folder, e.g. "bibliography/書誌_修正版.xlsx". */
    link: string;
    chosen: string;
    role: string;
    reason: string;
    candidates: Array<{ path: string; role: string; keywords: string[]; version: number; decision: string }>;
    /** Hidden and very hidden sheets of the chosen file: never read as data (present only when there are some). */
    skippedSheets?: Array<{ sheet: string; state: 'hidden' | 'veryHidden' }>;
  }>;
  images: {
    count: number;
    /** Images per classification folder ("" = the source folder itself), per source. */
    folders: Array<{ source: string; folder: string; count: number }>;
    /** Clean names that differ from the delivered ones (NFC, lower-case extension). */
    renamed: number;
  };
  /** Images replaced by a later source's file of the same name. */
  superseded: Array<{ name: string; kept: string; replaced: string }>;
  /** Same file name twice in one source: the first is linked. */
  conflicts: Array<{ name: string; kept: string; skipped: string[] }>;
  /** Reference-only images, not linked. */
  dropped: Array<{ path: string; rule: string; keyword: string; in: string }>;
  /** Files not used, and why (request forms, unsupported formats, other file types). */
  ignored: Array<{ path: string; reason: string }>;
  /** Junk (Thumbs.db, .DS_Store, ~$ lock files) skipped. */
  junk: number;
  /** Symlinks inside the delivery that were not followed, and why (present only when there are some). */
  skippedLinks?: SkippedLink[];
  problems: string[];
}

// ------------------------------------------------------------------------------------------------
// Scanning

interface Source {
  dir: string;
  folder: string;
  parsed: ParsedBatch;
}

interface RawFile {
  abs: string;
  /** Path below the source folder, '/'-separated, as on disk. */
  rel: string;
  name: string;
  /** Folder names between the source folder and the file. */
  folders: string[];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function readDir(dir: string): fs.Dirent[] {
  return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => cmp(a.name, b.name));
}

/** Dirent kind without following symlinks ('link' for a symlink). */
function kindOf(e: fs.Dirent): 'dir' | 'file' | 'link' | 'other' {
  if (e.isDirectory()) return 'dir';
  if (e.isFile()) return 'file';
  if (e.isSymbolicLink()) return 'link';
  return 'other';
}

/** A symlink met while walking a delivery, and why it was not followed. */
export interface SkippedLink {
  path: string;
  reason: string;
}

/**
 * Resolves a symlink found below `root` once. It is followed only when its target stays inside
 * `root` and was not visited yet (directories: neither already walked nor an ancestor of the link;
 * files: not already listed); otherwise the reason it is skipped: a loop, outside the folder,
 * dangling, or the same file or folder as one already taken.
 */
function resolveLink(abs: string, root: string, visited: Set<string>, within: string): { real: string; kind: 'dir' | 'file' } | { skip: string } {
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { skip: 'symlink loop' };
    if (code === 'ENOENT') return { skip: `dangling symlink (target ${safeReadlink(abs)} does not exist)` };
    return { skip: `unreadable symlink (${code ?? (e as Error).message})` };
  }
  if (!inside(real, root)) return { skip: `symlink to ${real}, outside the ${within}; not followed` };
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch (e) {
    return { skip: `unreadable symlink target ${real} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  if (st.isDirectory()) {
    if (inside(fs.realpathSync(path.dirname(abs)), real)) return { skip: `symlink loop (points to ${real}, a folder containing the link)` };
    if (visited.has(real)) return { skip: `symlink to ${real}, a folder already included; not followed twice` };
    return { real, kind: 'dir' };
  }
  if (st.isFile()) {
    if (visited.has(real)) return { skip: `symlink to ${real}, a file already included; not linked twice` };
    return { real, kind: 'file' };
  }
  return { skip: `symlink to ${real}, neither a file nor a folder` };
}

function safeReadlink(abs: string): string {
  try {
    return fs.readlinkSync(abs);
  } catch {
    return '?';
  }
}

/**
 * Batch source folders of a delivery root: the root itself when its name is a batch id, else every
 * folder below it (up to `batch.searchDepth` levels) whose name is. Images or spreadsheets found
 * outside any batch folder are reported in `problems`.
 */
function findSources(root: string, rules: CompiledRules, problems: string[]): Source[] {
  const self = rules.parseBatch(path.basename(root));
  if (self) return [{ dir: root, folder: path.basename(root), parsed: self }];
  const out: Source[] = [];
  const unused = (dir: string) =>
    `${dir}/: holds images or spreadsheets but is not a batch folder (no batch rule matches its name) and holds none; not used`;
  const walk = (dir: string, depth: number): boolean => {
    let found = false;
    const looseFiles: string[] = [];
    const looseDirs: string[] = [];
    for (const e of readDir(dir)) {
      const abs = path.join(dir, e.name);
      const kind = deliveryKind(dir, e, problems);
      if (kind === 'dir') {
        if (rules.isJunkFolder(e.name)) continue;
        const parsed = rules.parseBatch(e.name);
        if (parsed) {
          out.push({ dir: abs, folder: e.name, parsed });
          found = true;
        } else if (depth + 1 < rules.rules.batch.searchDepth && walk(abs, depth + 1)) {
          found = true;
        } else if (containsMaterial(abs, rules)) {
          looseDirs.push(abs);
        }
      } else if (kind === 'file' && !rules.isJunkFile(e.name)) {
        const ext = extensionOf(e.name);
        if ((rules.isImage(ext) || rules.isSpreadsheet(ext)) && !rules.requestForm(e.name)) looseFiles.push(e.name);
      }
    }
    // A folder without batch folders is reported as a whole by its parent.
    if (found || depth === 0) {
      for (const l of looseDirs) problems.push(unused(l));
      if (looseFiles.length) {
        const names = looseFiles.slice(0, 3).join(', ') + (looseFiles.length > 3 ? ', …' : '');
        problems.push(`${dir}/: ${looseFiles.length} image or spreadsheet file${looseFiles.length === 1 ? '' : 's'} outside any batch folder (${names}); not used`);
      }
    }
    return found;
  };
  if (!walk(root, 0)) {
    problems.push(`${root}: no batch folder found (no folder name matches a batch rule; see archive normalize --print-rules)`);
  }
  return out;
}

/**
 * Kind of an entry above the batch folders. A symlink there (an operator assembling a delivery
 * from several places) is followed unless it loops back to a folder containing it or does not
 * resolve; those are reported. The same folder reached twice is merged once (see normalize()).
 */
function deliveryKind(dir: string, e: fs.Dirent, problems?: string[]): 'dir' | 'file' | 'other' {
  const kind = kindOf(e);
  if (kind !== 'link') return kind;
  const abs = path.join(dir, e.name);
  let real: string;
  let st: fs.Stats;
  try {
    real = fs.realpathSync(abs);
    st = fs.statSync(real);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems?.push(`${abs}: ${code === 'ELOOP' ? 'symlink loop' : code === 'ENOENT' ? `dangling symlink (target ${safeReadlink(abs)} does not exist)` : `unreadable symlink (${code})`}; not followed`);
    return 'other';
  }
  if (st.isDirectory()) {
    if (inside(fs.realpathSync(dir), real)) {
      problems?.push(`${abs}: symlink loop (points to ${real}, a folder containing the link); not followed`);
      return 'other';
    }
    return 'dir';
  }
  return st.isFile() ? 'file' : 'other';
}

/** Whether a folder (recursively) holds images or spreadsheets. */
function containsMaterial(dir: string, rules: CompiledRules, depth = 0): boolean {
  if (depth > 32) return false;
  for (const e of readDir(dir)) {
    const kind = deliveryKind(dir, e);
    if (kind === 'dir' && !rules.isJunkFolder(e.name) && containsMaterial(path.join(dir, e.name), rules, depth + 1)) return true;
    if (kind === 'file' && !rules.isJunkFile(e.name)) {
      const ext = extensionOf(e.name);
      if (rules.isImage(ext) || rules.isSpreadsheet(ext)) return true;
    }
  }
  return false;
}

/**
 * Every file of a batch source. Real folders and files are walked first; then each symlink met is
 * resolved once and followed only when its target stays inside the source folder and was not
 * already taken (see resolveLink); every other link is returned in `skippedLinks`, so a link never
 * pulls in another delivery and a loop is never walked.
 */
function listFiles(source: Source, rules: CompiledRules, onFile: () => void): { files: RawFile[]; junk: number; skippedLinks: SkippedLink[] } {
  const files: RawFile[] = [];
  const skippedLinks: SkippedLink[] = [];
  let junk = 0;
  const root = fs.realpathSync(source.dir);
  const visited = new Set<string>([root]);
  const pending: Array<{ abs: string; rel: string; name: string; folders: string[] }> = [];
  const walk = (dir: string, rel: string, folders: string[]) => {
    const realDir = dir === source.dir ? root : fs.realpathSync(dir);
    for (const e of readDir(dir)) {
      const kind = kindOf(e);
      const r = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, e.name);
      if (kind === 'dir') {
        if (rules.isJunkFolder(e.name)) junk++;
        else {
          visited.add(path.join(realDir, e.name));
          walk(abs, r, [...folders, e.name]);
        }
      } else if (kind === 'file') {
        onFile();
        if (rules.isJunkFile(e.name)) junk++;
        else {
          visited.add(path.join(realDir, e.name));
          files.push({ abs, rel: r, name: e.name, folders });
        }
      } else if (kind === 'link') {
        if (rules.isJunkFile(e.name) || rules.isJunkFolder(e.name)) junk++;
        else pending.push({ abs, rel: r, name: e.name, folders });
      }
    }
  };
  walk(source.dir, '', []);
  for (let i = 0; i < pending.length; i++) {
    const l = pending[i]!;
    onFile();
    const res = resolveLink(l.abs, root, visited, 'batch folder');
    if ('skip' in res) {
      skippedLinks.push({ path: l.abs, reason: res.skip });
      continue;
    }
    visited.add(res.real);
    if (res.kind === 'dir') walk(l.abs, l.rel, [...l.folders, l.name]);
    else files.push({ abs: l.abs, rel: l.rel, name: l.name, folders: l.folders });
  }
  return { files, junk, skippedLinks };
}

// ------------------------------------------------------------------------------------------------
// Planning one batch

interface Plan {
  meta: BatchMeta;
  /** Link name below the batch folder → absolute target. */
  links: Map<string, string>;
}

function planBatch(batch: string, sources: Source[], rules: CompiledRules, onFile: () => void): Plan {
  const meta: BatchMeta = {
    batch,
    rules: rules.hash,
    sources: sources.map((s) => {
      const src: BatchMeta['sources'][number] = { path: s.dir, folder: s.folder, rule: s.parsed.rule, round: s.parsed.round };
      if (s.parsed.sub !== undefined) src.sub = s.parsed.sub;
      if (s.parsed.date) src.date = s.parsed.date;
      return src;
    }),
    spreadsheets: [],
    images: { count: 0, folders: [], renamed: 0 },
    superseded: [],
    conflicts: [],
    dropped: [],
    ignored: [],
    junk: 0,
    problems: [],
  };
  const links = new Map<string, string>();
  const imageFrom = new Map<string, { abs: string; source: number; folder: string }>();
  const conflicts = new Map<string, { kept: string; skipped: string[] }>();
  const folderCounts = new Map<string, number>();
  interface Candidate {
    abs: string;
    name: string;
    source: number;
    role: string;
    priority: number;
    keywords: string[];
    version: number;
  }
  const byCategory = new Map<string, Candidate[]>();

  sources.forEach((source, si) => {
    const { files, junk, skippedLinks } = listFiles(source, rules, onFile);
    meta.junk += junk;
    for (const l of skippedLinks) {
      (meta.skippedLinks ??= []).push(l);
      meta.problems.push(`${l.path}: ${l.reason}; skipped`);
    }
    for (const f of files) {
      const ext = extensionOf(f.name);
      if (rules.isSpreadsheet(ext) || rules.isUnsupportedSpreadsheet(ext)) {
        const form = rules.requestForm(f.name);
        if (form) {
          meta.ignored.push({ path: f.abs, reason: `request form (${form})` });
          continue;
        }
        if (rules.isUnsupportedSpreadsheet(ext)) {
          meta.ignored.push({ path: f.abs, reason: `unsupported spreadsheet format ${ext}; save it as .xlsx` });
          meta.problems.push(`${f.abs}: unsupported spreadsheet format ${ext}; save it as .xlsx`);
          continue;
        }
        const role = rules.role(f.name);
        const category = rules.category(f.name);
        const list = byCategory.get(category) ?? [];
        list.push({ abs: f.abs, name: f.name.normalize('NFC'), source: si, ...role, version: rules.version(f.name) });
        byCategory.set(category, list);
        continue;
      }
      if (!rules.isImage(ext)) {
        meta.ignored.push({ path: f.abs, reason: ext ? `not an image or a spreadsheet (${ext})` : 'not an image or a spreadsheet' });
        continue;
      }
      const ref = rules.reference(f.name, f.folders);
      if (ref) {
        meta.dropped.push({ path: f.abs, rule: ref.rule, keyword: ref.keyword, in: ref.in });
        continue;
      }
      const clean = rules.cleanImageName(f.name);
      if (clean !== f.name) meta.images.renamed++;
      const prev = imageFrom.get(clean);
      if (prev && prev.source === si) {
        const c = conflicts.get(clean) ?? { kept: prev.abs, skipped: [] };
        c.skipped.push(f.abs);
        conflicts.set(clean, c);
        continue;
      }
      const fk = `${si}\u0000${f.folders.join('/')}`;
      if (prev) {
        meta.superseded.push({ name: clean, kept: f.abs, replaced: prev.abs });
        folderCounts.set(prev.folder, folderCounts.get(prev.folder)! - 1);
      }
      imageFrom.set(clean, { abs: f.abs, source: si, folder: fk });
      folderCounts.set(fk, (folderCounts.get(fk) ?? 0) + 1);
    }
  });

  for (const [name, { abs }] of imageFrom) links.set(name, abs);
  meta.images.count = imageFrom.size;
  meta.images.folders = [...folderCounts]
    .filter(([, count]) => count > 0)
    .map(([k, count]) => {
      const [si, folder] = k.split('\u0000') as [string, string];
      return { source: sources[Number(si)]!.dir, folder, count };
    })
    .sort((a, b) => cmp(a.source, b.source) || cmp(a.folder, b.folder));
  for (const [name, c] of [...conflicts].sort((a, b) => cmp(a[0], b[0]))) {
    meta.conflicts.push({ name, kept: c.kept, skipped: c.skipped });
    meta.problems.push(`${name}: delivered ${c.skipped.length + 1} times in one source (${[c.kept, ...c.skipped].join(', ')}); linked ${c.kept}. Rename the others.`);
  }

  // Spreadsheets: one per category, by role priority, then version, then later source, then name.
  for (const [category, list] of [...byCategory].sort((a, b) => cmp(a[0], b[0]))) {
    const ranked = [...list].sort(
      (a, b) => b.priority - a.priority || b.version - a.version || b.source - a.source || cmp(b.name, a.name),
    );
    const chosen = ranked[0]!;
    const describe = (c: Candidate) => `${c.role}${c.keywords.length ? ` (${c.keywords.join(', ')})` : ''}`;
    const others = ranked.slice(1);
    let reason = others.length === 0 ? `the only ${category} spreadsheet` : '';
    const candidates = others.map((c) => {
      let decision: string;
      if (c.priority < chosen.priority) decision = `not chosen: ${describe(chosen)} outranks ${describe(c)}`;
      else if (c.version < chosen.version) decision = `not chosen: version ${chosen.version} is later than ${c.version}`;
      else if (c.source < chosen.source) decision = 'not chosen: a later delivery of the same role replaces it';
      else {
        decision = 'not chosen: same role and version in the same delivery; the later file name was taken';
        meta.problems.push(
          `${category}: ${chosen.abs} and ${c.abs} have the same role (${c.role}) and version; chose ${chosen.abs}. Remove or rename the other.`,
        );
      }
      return { path: c.abs, role: c.role, keywords: c.keywords, version: c.version, decision };
    });
    if (!reason) {
      const beaten = [...new Set(others.filter((c) => c.priority < chosen.priority).map((c) => c.role))];
      reason = beaten.length
        ? `${describe(chosen)} outranks ${beaten.join(', ')}`
        : `${describe(chosen)}: highest version or latest delivery among ${ranked.length} files`;
    }
    const link = `bibliography/${chosen.name}`;
    if (links.has(link)) meta.problems.push(`${link}: two categories chose files of the same name`);
    links.set(link, chosen.abs);
    const hidden = /\.xls[xm]$/i.test(chosen.abs) ? (sheetStates(chosen.abs) ?? []).filter((x) => x.state !== 'visible') : [];
    meta.spreadsheets.push({
      category,
      link,
      chosen: chosen.abs,
      role: chosen.role,
      reason,
      candidates,
      ...(hidden.length ? { skippedSheets: hidden.map((x) => ({ sheet: x.sheet, state: x.state as 'hidden' | 'veryHidden' })) } : {}),
    });
  }
  if (meta.spreadsheets.length === 0) {
    meta.problems.push(`no bibliography spreadsheet in ${sources.map((s) => s.dir).join(', ')}: its images cannot be indexed`);
  }

  meta.dropped.sort((a, b) => cmp(a.path, b.path));
  meta.ignored.sort((a, b) => cmp(a.path, b.path));
  meta.superseded.sort((a, b) => cmp(a.name, b.name));
  return { meta, links };
}

// ------------------------------------------------------------------------------------------------
// Writing one batch

const META = 'meta.json';
const BIB = 'bibliography';

/**
 * Links are written one by one with synchronous calls: they all go into the few directories of a
 * batch, and the file system serialises writes to one directory (on ext4, 72,000 links took 2–4 s
 * one by one and 4–12 s with 4–32 in flight through libuv's thread pool).
 */

async function readLinks(dir: string, prefix: string, have: Map<string, string>, foreign: Map<string, string>, dryRun: boolean): Promise<void> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const links: string[] = [];
  for (const e of entries) {
    const name = prefix + e.name;
    if (e.isSymbolicLink()) links.push(e.name);
    else if (prefix === '' && e.name === BIB && e.isDirectory()) await readLinks(path.join(dir, BIB), `${BIB}/`, have, foreign, dryRun);
    else if (prefix === '' && e.name === META && e.isFile()) continue;
    else if (e.name.startsWith('.normalize-tmp-')) {
      if (!dryRun) fs.rmSync(path.join(dir, e.name), { force: true }); // left by a killed run
    } else foreign.set(name, e.isDirectory() ? 'folder' : 'file');
  }
  for (const name of links) have.set(prefix + name, fs.readlinkSync(path.join(dir, name)));
}

async function applyPlan(dir: string, plan: Plan, dryRun: boolean, onLink: () => void): Promise<{ links: LinkCounts; metaChanged: boolean }> {
  const counts: LinkCounts = { added: 0, changed: 0, removed: 0, unchanged: 0 };
  const have = new Map<string, string>();
  const foreign = new Map<string, string>();
  await readLinks(dir, '', have, foreign, dryRun);
  if (!dryRun) {
    fs.mkdirSync(dir, { recursive: true });
    if ([...plan.links.keys()].some((k) => k.startsWith(`${BIB}/`))) fs.mkdirSync(path.join(dir, BIB), { recursive: true });
  }
  const writes: Array<{ file: string; target: string; replace: boolean }> = [];
  for (const [name, target] of [...plan.links].sort((a, b) => cmp(a[0], b[0]))) {
    const current = have.get(name);
    if (current === target) {
      counts.unchanged++;
      onLink();
      continue;
    }
    const kind = foreign.get(name);
    if (kind) {
      plan.meta.problems.push(`${path.join(dir, name)}: a ${kind} that normalize did not create is in the way; not replaced`);
      onLink();
      continue;
    }
    if (current === undefined) counts.added++;
    else counts.changed++;
    if (dryRun) onLink();
    else writes.push({ file: path.join(dir, name), target, replace: current !== undefined });
  }
  let tmpSeq = 0;
  for (const { file, target, replace } of writes) {
    onLink();
    if (!replace) {
      try {
        fs.symlinkSync(target, file);
        continue;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    // Replace atomically: a new link under a temporary name, renamed over the old one.
    const tmp = path.join(path.dirname(file), `.normalize-tmp-${process.pid}-${tmpSeq++}`);
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(target, tmp);
    fs.renameSync(tmp, file);
  }
  const stale = [...have.keys()].filter((name) => !plan.links.has(name)).sort();
  counts.removed = stale.length;
  if (!dryRun) for (const name of stale) fs.rmSync(path.join(dir, name), { force: true });
  if (!dryRun && ![...plan.links.keys()].some((k) => k.startsWith(`${BIB}/`))) {
    try {
      fs.rmdirSync(path.join(dir, BIB)); // only when empty
    } catch {
      // absent, or holds something normalize did not create
    }
  }

  const text = JSON.stringify(plan.meta, null, 2) + '\n';
  const metaFile = path.join(dir, META);
  let old: string | undefined;
  try {
    old = fs.readFileSync(metaFile, 'utf8');
  } catch {
    old = undefined;
  }
  const metaChanged = old !== text;
  if (metaChanged && !dryRun) {
    const tmp = path.join(dir, `.normalize-tmp-${process.pid}-meta`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, metaFile);
  }
  return { links: counts, metaChanged };
}

/** The meta.json of a clean batch folder, or undefined. */
export function readBatchMeta(cleanRoot: string, batch: string): BatchMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(cleanRoot, batch, META), 'utf8')) as BatchMeta;
  } catch {
    return undefined;
  }
}

/** Canonical batch folders of the clean tree (those with a meta.json), in batch order. */
export function cleanBatches(cleanRoot: string, rules: CompiledRules = compileRules()): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(cleanRoot, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(cleanRoot, e.name, META)))
    .map((e) => e.name)
    .sort((a, b) => compareBatchIds(a, b, rules));
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

// ------------------------------------------------------------------------------------------------

/** Run the normalize stage. Throws NormalizeError for unusable arguments (missing delivery). */
export async function normalize(opts: NormalizeOptions): Promise<NormalizeReport> {
  const rules = opts.rules ?? compileRules();
  const cleanRoot = path.resolve(opts.cleanRoot);
  const dryRun = !!opts.dryRun;
  const report: NormalizeReport = { batches: [], problems: [], files: 0, dryRun, totals: { added: 0, changed: 0, removed: 0, unchanged: 0 } };
  if (opts.deliveries.length === 0) throw new NormalizeError('no delivery folder given');

  // 1. Batch sources of every delivery root.
  const byBatch = new Map<string, Map<string, Source>>();
  for (const d of opts.deliveries) {
    const root = path.resolve(d);
    let st: fs.Stats;
    try {
      st = fs.statSync(root);
    } catch {
      throw new NormalizeError(`delivery folder ${root} not found`);
    }
    if (!st.isDirectory()) throw new NormalizeError(`${root} is not a folder`);
    const real = fs.realpathSync(root);
    const realClean = fs.existsSync(cleanRoot) ? fs.realpathSync(cleanRoot) : cleanRoot;
    if (inside(realClean, real) || inside(real, realClean)) {
      throw new NormalizeError(`the delivery ${root} and the clean tree ${cleanRoot} must not contain each other`);
    }
    const problems: string[] = [];
    for (const s of findSources(root, rules, problems)) {
      const m = byBatch.get(s.parsed.id) ?? new Map<string, Source>();
      const real = fs.realpathSync(s.dir);
      const same = [...m.values()].find((o) => o.dir !== s.dir && fs.realpathSync(o.dir) === real);
      if (same) {
        problems.push(`${s.dir}: the same folder as ${same.dir} (through a symlink); used once`);
        continue;
      }
      m.set(s.dir, s);
      byBatch.set(s.parsed.id, m);
    }
    report.problems.push(...problems);
  }

  // 2. Per batch: add the sources recorded by earlier runs, plan, write.
  let scanned = 0;
  let written = 0;
  const tickScan = () => {
    scanned++;
    if ((scanned & 1023) === 0) opts.onProgress?.({ phase: 'scan', done: scanned });
  };
  const plans: Array<{ batch: string; sources: Source[]; plan?: Plan; blocked?: string }> = [];
  for (const batch of [...byBatch.keys()].sort((a, b) => compareBatchIds(a, b, rules))) {
    const sources = byBatch.get(batch)!;
    const previous = readBatchMeta(cleanRoot, batch);
    let blocked: string | undefined;
    for (const s of previous?.sources ?? []) {
      if (sources.has(s.path)) continue;
      if (!fs.existsSync(s.path)) {
        blocked = `batch ${batch}: source ${s.path} (recorded in ${path.join(cleanRoot, batch, META)}) is gone; batch left unchanged. Restore it, or delete ${path.join(cleanRoot, batch)} and normalize every delivery of ${batch} again.`;
        break;
      }
      const parsed = rules.parseBatch(s.folder);
      if (parsed?.id === batch) sources.set(s.path, { dir: s.path, folder: s.folder, parsed });
    }
    // Later deliveries win: by date in the folder name, then by path.
    const ordered = [...sources.values()].sort((a, b) => cmp(a.parsed.date ?? '', b.parsed.date ?? '') || cmp(a.dir, b.dir));
    if (blocked) {
      plans.push({ batch, sources: ordered, blocked });
      continue;
    }
    plans.push({ batch, sources: ordered, plan: planBatch(batch, ordered, rules, tickScan) });
  }
  opts.onProgress?.({ phase: 'scan', done: scanned, total: scanned });
  report.files = scanned;

  const totalLinks = plans.reduce((n, p) => n + (p.plan?.links.size ?? 0), 0);
  for (const p of plans) {
    const br: BatchReport = {
      batch: p.batch,
      sources: p.sources.map((s) => s.dir),
      images: 0,
      spreadsheets: [],
      links: { added: 0, changed: 0, removed: 0, unchanged: 0 },
      dropped: 0,
      ignored: 0,
      metaChanged: false,
      problems: [],
      written: false,
    };
    if (!p.plan) {
      br.problems.push(p.blocked!);
      report.batches.push(br);
      continue;
    }
    const { meta } = p.plan;
    const res = await applyPlan(path.join(cleanRoot, p.batch), p.plan, dryRun, () => {
      written++;
      if ((written & 1023) === 0) opts.onProgress?.({ phase: 'write', done: written, total: totalLinks });
    });
    Object.assign(br, {
      images: meta.images.count,
      spreadsheets: meta.spreadsheets.map((s) => ({ category: s.category, role: s.role, file: s.chosen })),
      links: res.links,
      dropped: meta.dropped.length,
      ignored: meta.ignored.length,
      metaChanged: res.metaChanged,
      problems: meta.problems.map((m) => `batch ${p.batch}: ${m}`),
      written: !dryRun,
    });
    for (const k of Object.keys(report.totals) as Array<keyof LinkCounts>) report.totals[k] += res.links[k];
    report.batches.push(br);
  }
  opts.onProgress?.({ phase: 'write', done: written, total: totalLinks });
  return report;
}

/** Every problem of a report (delivery-level first), one line each. */
export function normalizeProblems(r: NormalizeReport): string[] {
  return [...r.problems, ...r.batches.flatMap((b) => b.problems)];
}
