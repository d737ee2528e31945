import assert from 'node:assert/strict';
import { isNsboxError, z } from '@nsbox/core';
import { prefixFields, toApiError } from './api-error.js';
import { parsePart } from './validate.js';

describe('request validation', () => {
  const schema = z.strictObject({ name: z.string(), config: z.strictObject({ process: z.strictObject({ args: z.array(z.string()) }).optional() }) });

  /** The API error parsePart throws for a value, or a failed assertion when it accepts it. */
  function refusal(part: Parameters<typeof parsePart>[1], value: unknown, partSchema: Parameters<typeof parsePart>[0] = schema) {
    let thrown: unknown;
    assert.throws(
      () => parsePart(partSchema, part, value),
      (error: unknown) => {
        thrown = error;
        return isNsboxError(error);
      },
      'the value is refused with an NsboxError',
    );
    return thrown;
  }

  it('names every unknown field and wrong type by its path', () => {
    const { status, body } = toApiError(refusal('body', { name: 1, colour: 'red', config: { process: { args: [1], shell: 'sh' } } }));
    assert.equal(status, 400);
    assert.equal(body.error.code, 'E_INVALID_ARGUMENT');
    assert.deepEqual((body.error.details.issues as { path: string }[]).map((issue) => issue.path).sort(), [
      'colour',
      'config.process.args[0]',
      'config.process.shell',
      'name',
    ]);
    assert.equal(body.error.field, (body.error.details.issues as { path: string }[])[0]?.path, 'the field blamed is the first issue');
    assert.match(body.error.message, /^invalid request body: /);
  });

  it('blames the body itself when it is not an object, and prefixes config paths', () => {
    assert.equal(toApiError(refusal('body', 'text')).body.error.field, '(body)');
    const plain = new (class extends Error {})('x');
    assert.equal(prefixFields(plain, 'config'), plain, 'an error that names no field is passed through');
    const prefixed = toApiError(prefixFields(refusal('query', { a: 'x' }, z.strictObject({ a: z.number() })), 'config'));
    assert.equal(prefixed.body.error.field, 'config.a');
    assert.deepEqual(
      (prefixed.body.error.details.issues as { path: string }[]).map((issue) => issue.path),
      ['config.a'],
    );
  });

  it('turns anything else into a 500 without leaking a stack', () => {
    const { status, body } = toApiError(new TypeError('boom'));
    assert.equal(status, 500);
    assert.deepEqual(body, { error: { code: 'E_INTERNAL', message: 'boom', details: {} } });
  });
});
