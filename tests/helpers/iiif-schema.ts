/** Validates documents against the official IIIF Presentation 3 JSON Schema (tests/fixtures/iiif). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** The IIIF validators' data files, kept in the repository (source and licence in its README). */
export const IIIF_FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures', 'iiif');

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
let validateFn: ReturnType<Ajv['compile']> | undefined;

/** Returns the schema errors (empty when valid). */
export function presentationErrors(doc: unknown): string[] {
  if (!validateFn) {
    const schema = JSON.parse(readFileSync(path.join(IIIF_FIXTURES, 'presentation-3.schema.json'), 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    validateFn = ajv.compile(schema);
  }
  return validateFn(doc) ? [] : (validateFn.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
