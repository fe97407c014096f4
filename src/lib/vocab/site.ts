/** The running archive's vocabularies: defaults plus DATA_DIR/vocabularies.json (see index.ts). */
import { config } from '../config.ts';
import { loadVocabularies, vocabularyFile, type Vocabularies } from './index.ts';

export function siteVocabularies(): Vocabularies {
  return loadVocabularies(vocabularyFile(config().dataDir));
}
