import { useEffect, useState, type ReactNode } from 'react';
import type { JsonSchema } from '../api/types';
import { cx } from '../components/ui';
import type { FieldErrors } from '../lib/formErrors';
import { enumOptions, initialValue, kindOf, parseNumber } from './schema';

const inputCls =
  'block w-full rounded-md border-0 bg-white px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-inset focus:ring-indigo-500 aria-[invalid=true]:ring-red-400';

export interface SchemaFormProps {
  schema: JsonSchema;
  value: unknown;
  onChange: (v: unknown) => void;
  /** Errors by dotted path relative to the form's root (see lib/formErrors). */
  errors?: FieldErrors;
  idPrefix?: string;
  disabled?: boolean;
}

/** A form generated from a JSON Schema (the subset tools use: objects, arrays, enums, scalars). */
export function SchemaForm({ schema, value, onChange, errors = {}, idPrefix = 'f', disabled }: SchemaFormProps) {
  const kind = kindOf(schema);
  if (kind === 'object') {
    return (
      <fieldset disabled={disabled} className="space-y-4">
        <ObjectFields schema={schema} value={value} onChange={onChange} path={[]} errors={errors} idPrefix={idPrefix} />
      </fieldset>
    );
  }
  const isObject = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object')) || schema.properties !== undefined;
  const closed = schema.additionalProperties === false || (schema.properties !== undefined && schema.additionalProperties === undefined);
  if (isObject && closed && Object.keys(schema.properties ?? {}).length === 0) {
    return <p className="text-sm text-slate-500">This tool takes no arguments.</p>;
  }
  return (
    <fieldset disabled={disabled}>
      <SchemaField name={isObject ? 'Arguments (JSON)' : 'value'} schema={schema} value={value} onChange={onChange} path={[]} errors={errors} idPrefix={idPrefix} required />
    </fieldset>
  );
}

interface NodeProps {
  schema: JsonSchema;
  value: unknown;
  onChange: (v: unknown) => void;
  path: string[];
  errors: FieldErrors;
  idPrefix: string;
}

function fieldId(prefix: string, path: string[]): string {
  return `${prefix}-${path.length ? path.join('-').replace(/[^A-Za-z0-9_-]/g, '_') : 'root'}`;
}

function ObjectFields({ schema, value, onChange, path, errors, idPrefix }: NodeProps) {
  const obj = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const req = new Set(schema.required ?? []);
  const props = Object.entries(schema.properties ?? {});
  if (props.length === 0) return <p className="text-sm text-slate-500">This tool takes no arguments.</p>;
  return (
    <>
      {props.map(([name, sub]) => (
        <SchemaField
          key={name}
          name={name}
          schema={sub}
          value={obj[name]}
          required={req.has(name)}
          path={[...path, name]}
          errors={errors}
          idPrefix={idPrefix}
          onChange={(v) => {
            const next = { ...obj };
            if (v === undefined) delete next[name];
            else next[name] = v;
            onChange(next);
          }}
        />
      ))}
    </>
  );
}

function Label({ htmlFor, text, required, as = 'label' }: { htmlFor?: string; text: string; required?: boolean; as?: 'label' | 'legend' }) {
  const inner = (
    <>
      {text}
      {required && (
        <>
          <span className="ml-0.5 text-red-600" aria-hidden="true">
            *
          </span>
          <span className="sr-only"> (required)</span>
        </>
      )}
    </>
  );
  if (as === 'legend') return <legend className="px-1 text-sm font-semibold text-slate-800">{inner}</legend>;
  return (
    <label htmlFor={htmlFor} className="block text-sm font-medium text-slate-700">
      {inner}
    </label>
  );
}

function Help({ id, text, error, errorId }: { id: string; text?: string; error?: string; errorId: string }) {
  return (
    <>
      {text && (
        <p id={id} className="text-xs text-slate-500">
          {text}
        </p>
      )}
      {error && (
        <p id={errorId} className="text-xs font-medium text-red-600">
          {error}
        </p>
      )}
    </>
  );
}

function SchemaField({ name, schema, value, onChange, path, errors, idPrefix, required }: NodeProps & { name: string; required?: boolean }) {
  const kind = kindOf(schema);
  const id = fieldId(idPrefix, path);
  const key = path.join('.');
  const error = errors[key];
  const descId = `${id}-desc`;
  const errId = `${id}-error`;
  const describedBy = [schema.description ? descId : null, error ? errId : null].filter(Boolean).join(' ') || undefined;
  const label = schema.title ?? name;
  const common = { id, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined, 'aria-required': required || undefined, name: key || name };

  let control: ReactNode;
  switch (kind) {
    case 'object':
      return (
        <fieldset className="space-y-4 rounded-lg border border-slate-200 p-4" aria-describedby={describedBy} data-path={key}>
          <Label as="legend" text={label} required={required} />
          <Help id={descId} text={schema.description} error={error} errorId={errId} />
          <ObjectFields schema={schema} value={value} onChange={onChange} path={path} errors={errors} idPrefix={idPrefix} />
        </fieldset>
      );
    case 'array':
      return <ArrayField name={name} label={label} schema={schema} value={value} onChange={onChange} path={path} errors={errors} idPrefix={idPrefix} required={required} describedBy={describedBy} descId={descId} errId={errId} error={error} />;
    case 'boolean':
      return (
        <div className="space-y-1">
          <div className="flex items-center gap-2">
            <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(e.target.checked)} className="h-4 w-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-500" />
            <Label htmlFor={id} text={label} required={required} />
          </div>
          <Help id={descId} text={schema.description} error={error} errorId={errId} />
        </div>
      );
    case 'enum': {
      const opts = enumOptions(schema) ?? [];
      const idx = opts.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(value));
      control = (
        <select {...common} className={cx(inputCls, 'pr-8')} value={idx < 0 ? '' : String(idx)} onChange={(e) => onChange(e.target.value === '' ? undefined : opts[Number(e.target.value)].value)}>
          <option value="">{required ? 'Choose…' : '(none)'}</option>
          {opts.map((o, i) => (
            <option key={i} value={String(i)}>
              {o.label}
            </option>
          ))}
        </select>
      );
      break;
    }
    case 'number':
    case 'integer':
      control = (
        <NumberInput common={common} integer={kind === 'integer'} value={value} onChange={onChange} min={schema.minimum} max={schema.maximum} />
      );
      break;
    case 'string': {
      const long = (schema.maxLength ?? 0) > 200 || schema.format === 'textarea' || schema.contentMediaType !== undefined;
      const type = schema.format === 'email' ? 'email' : schema.format === 'uri' || schema.format === 'url' ? 'url' : schema.format === 'password' ? 'password' : 'text';
      const str = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
      control = long ? (
        <textarea {...common} rows={4} className={inputCls} value={str} onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)} />
      ) : (
        <input {...common} type={type} className={inputCls} value={str} placeholder={schema.format === 'date-time' ? 'YYYY-MM-DDThh:mm:ssZ' : undefined} onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)} />
      );
      break;
    }
    default:
      control = <JsonInput common={common} value={value} onChange={onChange} />;
  }
  return (
    <div className="space-y-1" data-path={key}>
      <Label htmlFor={id} text={label} required={required} />
      {control}
      <Help id={descId} text={schema.description} error={error} errorId={errId} />
    </div>
  );
}

type Common = { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean; 'aria-required'?: boolean; name: string };

function NumberInput({ common, integer, value, onChange, min, max }: { common: Common; integer: boolean; value: unknown; onChange: (v: unknown) => void; min?: number; max?: number }) {
  const [text, setText] = useState(value === undefined || value === null ? '' : String(value));
  useEffect(() => {
    // Follow outside changes (reset) without fighting the user's typing.
    if (parseNumber(text, integer) !== value && !(value === undefined && text === '')) setText(value === undefined || value === null ? '' : String(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <input
      {...common}
      type="number"
      inputMode={integer ? 'numeric' : 'decimal'}
      step={integer ? 1 : 'any'}
      min={min}
      max={max}
      className={inputCls}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        onChange(parseNumber(e.target.value, integer));
      }}
    />
  );
}

function JsonInput({ common, value, onChange }: { common: Common; value: unknown; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(value === undefined ? '' : JSON.stringify(value, null, 2));
  const [bad, setBad] = useState(false);
  return (
    <>
      <textarea
        {...common}
        rows={3}
        className={cx(inputCls, 'font-mono')}
        aria-invalid={bad || common['aria-invalid'] || undefined}
        placeholder="JSON value"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === '') {
            setBad(false);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setBad(false);
          } catch {
            setBad(true);
          }
        }}
      />
      {bad && <p className="text-xs font-medium text-red-600">Not valid JSON yet.</p>}
    </>
  );
}

function ArrayField({ label, schema, value, onChange, path, errors, idPrefix, required, describedBy, descId, errId, error }: NodeProps & { name: string; label: string; required?: boolean; describedBy?: string; descId: string; errId: string; error?: string }) {
  const items = Array.isArray(value) ? value : [];
  const itemSchema: JsonSchema = schema.items ?? {};
  const itemKind = kindOf(itemSchema);
  const canAdd = schema.maxItems === undefined || items.length < schema.maxItems;
  const set = (i: number, v: unknown) => {
    const next = items.slice();
    next[i] = v;
    onChange(next);
  };
  return (
    <fieldset className="space-y-3 rounded-lg border border-slate-200 p-4" aria-describedby={describedBy} data-path={path.join('.')}>
      <Label as="legend" text={label} required={required} />
      <Help id={descId} text={schema.description} error={error} errorId={errId} />
      {items.length === 0 && <p className="text-xs text-slate-500">No items.</p>}
      <ol className="space-y-3">
        {items.map((item, i) => (
          <li key={i} className="flex items-start gap-2">
            <div className="min-w-0 flex-1">
              {itemKind === 'object' ? (
                <fieldset className="space-y-3 rounded-md bg-slate-50 p-3">
                  <legend className="sr-only">
                    {label} item {i + 1}
                  </legend>
                  <ObjectFields schema={itemSchema} value={item} onChange={(v) => set(i, v)} path={[...path, String(i)]} errors={errors} idPrefix={idPrefix} />
                </fieldset>
              ) : (
                <SchemaField name={`${label} ${i + 1}`} schema={{ ...itemSchema, title: `${itemSchema.title ?? label} ${i + 1}` }} value={item} onChange={(v) => set(i, v)} path={[...path, String(i)]} errors={errors} idPrefix={idPrefix} />
              )}
            </div>
            <button
              type="button"
              className={cx('rounded-md px-2 py-1 text-xs font-medium text-red-700 ring-1 ring-red-200 hover:bg-red-50', itemKind === 'object' ? 'mt-1' : 'mt-6')}
              aria-label={`Remove ${label} item ${i + 1}`}
              onClick={() => onChange(items.filter((_, j) => j !== i))}
            >
              Remove
            </button>
          </li>
        ))}
      </ol>
      {canAdd && (
        <button type="button" className="rounded-md px-2.5 py-1 text-xs font-medium text-indigo-700 ring-1 ring-indigo-200 hover:bg-indigo-50" onClick={() => onChange([...items, initialValue(itemSchema, true)])}>
          Add {label} item
        </button>
      )}
    </fieldset>
  );
}
