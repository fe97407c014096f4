/** Bilingual vocabularies: defaults, an archive's own file overriding and extending them, bad files ignored. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DEFAULTS, langOf, loadVocabularies, mergeVocabularies, term, termMap, vocabularyFile } from '../../src/lib/vocab/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('vocabularies', () => {
  test('known terms in each language, each with the language it is written in', () => {
    expect(term(DEFAULTS, 'type', 'アルバム', 'en')).toEqual({ text: 'Album', lang: 'en' });
    expect(term(DEFAULTS, 'type', 'アルバム', 'ja')).toEqual({ text: 'アルバム', lang: 'ja' });
    expect(term(DEFAULTS, 'rights', '著作権保護期間満了', 'en')).toEqual({ text: 'Copyright expired', lang: 'en' });
    expect(term(DEFAULTS, 'subjects', '港湾', 'en')).toEqual({ text: 'Ports and harbours', lang: 'en' });
    expect(term(DEFAULTS, 'access', 'members', 'ja')).toEqual({ text: '会員', lang: 'ja' });
    expect(termMap(DEFAULTS, 'type', '写真')).toEqual({ ja: '写真', en: 'Photograph' });
  });

  test('an unknown term is shown as written, marked with its own language', () => {
    expect(term(DEFAULTS, 'type', '新種別', 'en')).toEqual({ text: '新種別', lang: 'ja' });
    expect(term(DEFAULTS, 'subjects', 'harbour', 'ja')).toEqual({ text: 'harbour', lang: 'en' });
    expect(langOf('ｶﾞｽ')).toBe('ja');
  });

  test('an archive file adds terms and overrides labels; the defaults stay for the rest', () => {
    const file = vocabularyFile(dir, {});
    expect(file).toBe(path.join(dir, 'vocabularies.json'));
    expect(loadVocabularies(file)).toBe(DEFAULTS);
    fs.writeFileSync(file, JSON.stringify({ type: { 新種別: { en: 'New kind' }, 写真: { en: 'Photo' } }, subjects: { 港湾: { en: '' } }, bogus: {} }));
    const v = loadVocabularies(file);
    expect(term(v, 'type', '新種別', 'en')).toEqual({ text: 'New kind', lang: 'en' });
    expect(term(v, 'type', '写真', 'en').text).toBe('Photo');
    expect(term(v, 'subjects', '港湾', 'en').text).toBe('Ports and harbours');
    expect(term(v, 'type', 'アルバム', 'en').text).toBe('Album');
    expect(DEFAULTS.type['写真']!.en).toBe('Photograph');
  });

  test('a file that does not parse is reported and ignored, never fatal', () => {
    const file = path.join(dir, 'broken.json');
    fs.writeFileSync(file, '{ "type": ');
    expect(vocabularyFile(dir, { VOCABULARIES: 'broken.json' })).toBe(file);
    expect(loadVocabularies(file)).toBe(DEFAULTS);
    expect(mergeVocabularies(DEFAULTS, 'nonsense').type['写真']).toEqual({ en: 'Photograph' });
  });
});
