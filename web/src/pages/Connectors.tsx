import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api, itemsOf } from '../api';
import type { Category } from '../api/types';
import { qk } from '../live/cache';
import { Badge, Card, Empty, Field, Input, PageHeader, QueryView, Select } from '../components/ui';
import { HealthBadge, useHealth } from '../components/Health';

export const AUTH_LABELS: Record<string, string> = { none: 'No auth', api_key: 'API key', basic: 'Username & password', bearer: 'Token', oauth2: 'OAuth' };

function catName(c: Category | string): string {
  return typeof c === 'string' ? c : c.slug ?? c.name;
}

export function ConnectorIcon({ name, icon }: { name: string; icon?: string | null }) {
  if (icon && /^(https?:|data:image\/|\/)/.test(icon)) return <img src={icon} alt="" className="h-10 w-10 rounded-lg object-contain" />;
  return (
    <span aria-hidden="true" className="flex h-10 w-10 shrink-0 items-center justify-center rounded-lg bg-indigo-50 text-base font-semibold text-indigo-700 ring-1 ring-indigo-100">
      {icon && icon.length <= 2 ? icon : name.slice(0, 1).toUpperCase()}
    </span>
  );
}

export default function Connectors() {
  const [params, setParams] = useSearchParams();
  const category = params.get('category') ?? '';
  const auth = params.get('auth_type') ?? '';
  const [text, setText] = useState(params.get('q') ?? '');
  const q = params.get('q') ?? '';
  const health = useHealth();

  useEffect(() => {
    const t = setTimeout(() => {
      if (text === q) return;
      const p = new URLSearchParams(params);
      if (text) p.set('q', text);
      else p.delete('q');
      setParams(p, { replace: true });
    }, 250);
    return () => clearTimeout(t);
  }, [text, q, params, setParams]);

  const set = (k: string, v: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    setParams(p, { replace: true });
  };

  const filters = { category: category || undefined, auth_type: auth || undefined, q: q || undefined, limit: 200 };
  const list = useQuery({ queryKey: qk.connectors(filters), queryFn: () => api.connectors(filters), placeholderData: (prev) => prev });
  const cats = useQuery({ queryKey: qk.categories, queryFn: api.categories, staleTime: 300_000 });

  return (
    <>
      <PageHeader title="Connectors" description="Browse the catalog, then connect an account to run its tools." />
      <div className="mb-6 grid gap-3 sm:grid-cols-[1fr_12rem_12rem]">
        <Field label="Search">
          {({ id }) => <Input id={id} type="search" placeholder="Name or description" value={text} onChange={(e) => setText(e.target.value)} />}
        </Field>
        <Field label="Category">
          {({ id }) => (
            <Select id={id} value={category} onChange={(e) => set('category', e.target.value)}>
              <option value="">All categories</option>
              {itemsOf(cats.data).map((c) => (
                <option key={catName(c)} value={catName(c)}>
                  {typeof c === 'string' ? c : c.name}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="Authentication">
          {({ id }) => (
            <Select id={id} value={auth} onChange={(e) => set('auth_type', e.target.value)}>
              <option value="">Any</option>
              {Object.entries(AUTH_LABELS).map(([k, v]) => (
                <option key={k} value={k}>
                  {v}
                </option>
              ))}
            </Select>
          )}
        </Field>
      </div>
      <QueryView
        q={list}
        loadingLabel="Loading connectors…"
        isEmpty={(d) => d.items.length === 0}
        empty={<Empty title="No connectors match">Try another search or clear the filters.</Empty>}
      >
        {(d) => (
          <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" aria-label="Connectors">
            {d.items.map((c) => (
              <li key={c.slug}>
                <Card className="h-full transition hover:shadow-md hover:ring-indigo-200">
                  <Link to={`/connectors/${encodeURIComponent(c.slug)}`} className="flex h-full flex-col gap-3 p-4" data-testid={`connector-${c.slug}`}>
                    <div className="flex items-center gap-3">
                      <ConnectorIcon name={c.name} icon={c.icon} />
                      <div className="min-w-0">
                        <h2 className="truncate font-semibold text-slate-900">{c.name}</h2>
                        <p className="text-xs text-slate-500">{c.category || 'Uncategorised'}</p>
                      </div>
                    </div>
                    <p className="line-clamp-2 flex-1 text-sm text-slate-600">{c.description}</p>
                    <div className="flex flex-wrap gap-2">
                      <Badge color="indigo">{AUTH_LABELS[c.auth_type] ?? c.auth_type}</Badge>
                      <Badge>
                        {c.tool_count} tool{c.tool_count === 1 ? '' : 's'}
                      </Badge>
                      {c.source && c.source !== 'catalog' && <Badge color="amber">{c.source}</Badge>}
                      <HealthBadge row={health.get(c.slug)} />
                    </div>
                  </Link>
                </Card>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </>
  );
}
