import { describe, expect, it } from 'vitest';
import { useState } from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import type { JsonSchema } from '../api/types';
import { ApiError } from '../api/client';
import { fieldErrors, normalizePath } from '../lib/formErrors';
import { SchemaForm } from './SchemaForm';
import { cleanValue, initialValue, kindOf } from './schema';

const schema: JsonSchema = {
  type: 'object',
  required: ['title', 'count', 'priority', 'owner'],
  properties: {
    title: { type: 'string', description: 'Short summary' },
    count: { type: 'integer', minimum: 1 },
    ratio: { type: 'number' },
    draft: { type: 'boolean' },
    priority: { type: 'string', enum: ['low', 'high'] },
    labels: { type: 'array', items: { type: 'string' } },
    owner: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } } },
    extra: { type: 'object' },
  },
};

function Harness({ s = schema, errors, onValue }: { s?: JsonSchema; errors?: Record<string, string>; onValue?: (v: unknown) => void }) {
  const [v, setV] = useState<unknown>(() => initialValue(s, true));
  return (
    <SchemaForm
      schema={s}
      value={v}
      errors={errors}
      idPrefix="t"
      onChange={(x) => {
        setV(x);
        onValue?.(x);
      }}
    />
  );
}

describe('schema helpers', () => {
  it('maps schema types to kinds', () => {
    expect(kindOf({ type: 'string' })).toBe('string');
    expect(kindOf({ type: ['integer', 'null'] })).toBe('integer');
    expect(kindOf({ enum: [1, 2] })).toBe('enum');
    expect(kindOf({ oneOf: [{ const: 'a' }, { const: 'b' }] })).toBe('enum');
    expect(kindOf({ properties: { a: {} } })).toBe('object');
    expect(kindOf({ type: 'object' })).toBe('json');
    expect(kindOf({ items: { type: 'string' } })).toBe('array');
    expect(kindOf({})).toBe('json');
  });

  it('builds initial values from defaults and required members', () => {
    expect(initialValue(schema)).toEqual({ owner: {} });
    expect(initialValue({ type: 'object', properties: { n: { type: 'integer', default: 3 }, b: { type: 'boolean' } }, required: ['b'] })).toEqual({ n: 3, b: false });
    expect(cleanValue({ a: undefined, b: [1, undefined], c: { d: undefined } })).toEqual({ b: [1], c: {} });
  });
});

describe('SchemaForm', () => {
  it('renders a control per type with required marks', () => {
    render(<Harness />);
    const title = screen.getByLabelText(/^title/);
    expect(title.tagName).toBe('INPUT');
    expect(title.getAttribute('aria-required')).toBe('true');
    expect(screen.getByLabelText(/^count/).getAttribute('type')).toBe('number');
    expect(screen.getByLabelText(/^count/).getAttribute('step')).toBe('1');
    expect(screen.getByLabelText(/^ratio/).getAttribute('step')).toBe('any');
    expect(screen.getByLabelText(/^ratio/).getAttribute('aria-required')).toBeNull();
    expect(screen.getByLabelText(/^draft/).getAttribute('type')).toBe('checkbox');
    const prio = screen.getByLabelText(/^priority/) as HTMLSelectElement;
    expect(prio.tagName).toBe('SELECT');
    expect(Array.from(prio.options).map((o) => o.textContent)).toEqual(['Choose…', 'low', 'high']);
    expect(screen.getByText('Short summary').id).toBe(title.getAttribute('aria-describedby'));
    // Nested object: a fieldset with its own required member.
    const owner = screen.getByRole('group', { name: /owner/ });
    expect(within(owner).getByLabelText(/^name/).getAttribute('aria-required')).toBe('true');
    expect(within(owner).getByLabelText(/^email/).getAttribute('type')).toBe('email');
    // Free-form object: a JSON editor.
    expect(screen.getByLabelText(/^extra/).tagName).toBe('TEXTAREA');
    expect(screen.getAllByText('(required)').length).toBe(5);
  });

  it('produces typed values', () => {
    let last: any;
    render(<Harness onValue={(v) => (last = v)} />);
    fireEvent.change(screen.getByLabelText(/^title/), { target: { value: 'Hello' } });
    fireEvent.change(screen.getByLabelText(/^count/), { target: { value: '42' } });
    fireEvent.change(screen.getByLabelText(/^ratio/), { target: { value: '0.5' } });
    fireEvent.click(screen.getByLabelText(/^draft/));
    fireEvent.change(screen.getByLabelText(/^priority/), { target: { value: '1' } });
    fireEvent.change(screen.getByLabelText(/^name/), { target: { value: 'Ann' } });
    fireEvent.change(screen.getByLabelText(/^extra/), { target: { value: '{"k": [1]}' } });
    expect(last).toEqual({ title: 'Hello', count: 42, ratio: 0.5, draft: true, priority: 'high', owner: { name: 'Ann' }, extra: { k: [1] } });
    // Clearing an optional field removes it.
    fireEvent.change(screen.getByLabelText(/^ratio/), { target: { value: '' } });
    expect('ratio' in last).toBe(false);
    // A non-integer in an integer field is passed through for the server to reject.
    fireEvent.change(screen.getByLabelText(/^count/), { target: { value: '1.5' } });
    expect(last.count).toBe('1.5');
  });

  it('adds and removes array items', () => {
    let last: any;
    render(<Harness onValue={(v) => (last = v)} />);
    const add = screen.getByRole('button', { name: 'Add labels item' });
    fireEvent.click(add);
    fireEvent.click(add);
    fireEvent.change(screen.getByLabelText(/^labels 1/), { target: { value: 'a' } });
    fireEvent.change(screen.getByLabelText(/^labels 2/), { target: { value: 'b' } });
    expect(last.labels).toEqual(['a', 'b']);
    fireEvent.click(screen.getByRole('button', { name: 'Remove labels item 1' }));
    expect(last.labels).toEqual(['b']);
  });

  it('renders arrays of objects', () => {
    let last: any;
    const s: JsonSchema = { type: 'object', properties: { rows: { type: 'array', items: { type: 'object', required: ['k'], properties: { k: { type: 'string' }, on: { type: 'boolean' } } } } } };
    render(<Harness s={s} onValue={(v) => (last = v)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Add rows item' }));
    fireEvent.change(screen.getByLabelText(/^k/), { target: { value: 'x' } });
    expect(last.rows).toEqual([{ k: 'x' }]);
  });

  it('ties 422 details to their fields', () => {
    const err = new ApiError(422, 'validation_failed', 'Invalid arguments', {
      details: [
        { path: '/arguments/count', keyword: 'minimum', message: 'must be >= 1' },
        { path: '/arguments/owner', keyword: 'required', message: "missing required property 'name'" },
        { path: '/arguments/labels/0', keyword: 'type', message: 'must be a string' },
      ],
    });
    const errors = fieldErrors(err, 'arguments');
    expect(errors).toEqual({ count: 'must be >= 1', 'owner.name': "missing required property 'name'", 'labels.0': 'must be a string' });
    render(<Harness errors={errors} />);
    const count = screen.getByLabelText(/^count/);
    expect(count.getAttribute('aria-invalid')).toBe('true');
    const msg = screen.getByText('must be >= 1');
    expect(count.getAttribute('aria-describedby')?.split(' ')).toContain(msg.id);
    const name = screen.getByLabelText(/^name/);
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(document.getElementById(name.getAttribute('aria-describedby')!)?.textContent).toContain('name');
    expect(screen.getByLabelText(/^title/).getAttribute('aria-invalid')).toBeNull();
  });

  it('says so when a tool takes no arguments, and offers JSON for open objects', () => {
    const { unmount } = render(<Harness s={{ type: 'object', properties: {}, additionalProperties: false }} />);
    expect(screen.getByText('This tool takes no arguments.')).toBeTruthy();
    unmount();
    let last: unknown;
    render(<Harness s={{ type: 'object' }} onValue={(v) => (last = v)} />);
    fireEvent.change(screen.getByLabelText(/^Arguments \(JSON\)/), { target: { value: '{"a": 1}' } });
    expect(last).toEqual({ a: 1 });
  });

  it('normalises the error path notations', () => {
    expect(normalizePath('/arguments/a/0/b', 'arguments')).toBe('a.0.b');
    expect(normalizePath('$.a[0].b')).toBe('a.0.b');
    expect(normalizePath('arguments.a', 'arguments')).toBe('a');
    expect(normalizePath('#/a~1b')).toBe('a/b');
    expect(normalizePath('')).toBe('');
    const e = new ApiError(422, 'validation', 'email is invalid', { field: 'email' });
    expect(fieldErrors(e)).toEqual({ email: 'email is invalid' });
  });
});
