/** Validates documents against the official IIIF Presentation 3 JSON Schema in ../shared/iiif. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

export const SHARED_IIIF = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'iiif');

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
let validateFn: ReturnType<Ajv['compile']> | undefined;

/** Returns the schema errors (empty when valid). */
export function presentationErrors(doc: unknown): string[] {
  if (!validateFn) {
    const schema = JSON.parse(readFileSync(path.join(SHARED_IIIF, 'presentation-3.schema.json'), 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    validateFn = ajv.compile(schema);
  }
  return validateFn(doc) ? [] : (validateFn.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
