import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, type ReactNode, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import {
  type Estimate,
  NotFoundError,
  QuotaExceededError,
  RendermillError,
  type RenderRequest,
  type Scene,
  UpgradeRequiredError,
  ValidationError,
} from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { formatQuantity, metricLabel } from '../format.ts';
import { SAMPLE_SCENES } from '../sample.ts';

type Row = Scene & { key: number };
type FieldErrors = Record<string, string>;

let nextKey = 1;
const withKeys = (scenes: Scene[]): Row[] => scenes.map((s) => ({ ...s, key: nextKey++ }));
const withoutKeys = (rows: Row[]): Scene[] =>
  rows.map(({ key: _key, ...s }) =>
    Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined && v !== '')),
  ) as Scene[];

function parseScenes(text: string): Scene[] | string {
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v)) return 'must be a JSON array of scenes';
    if (!v.every((s) => typeof s === 'object' && s !== null && !Array.isArray(s)))
      return 'each scene must be an object';
    return v as Scene[];
  } catch (err) {
    return err instanceof Error ? err.message : 'not valid JSON';
  }
}

/**
 * Where an API error belongs on this form: JSON-pointer paths for 400, the scenes for a 402 (the
 * quantities come from them), the gated field for a 403 upgrade; the rest under the buttons.
 */
function fieldErrorsOf(err: unknown): FieldErrors {
  if (err instanceof ValidationError) {
    const out: FieldErrors = {};
    for (const e of err.errors) out[e.path || '/'] = e.message;
    return out;
  }
  if (err instanceof UpgradeRequiredError) {
    const feature = String(err.problem.feature ?? '');
    return { [feature.startsWith('resolution') ? '/resolution' : '/']: err.message };
  }
  if (err instanceof QuotaExceededError) {
    const p = err.problem as {
      metric?: string;
      limit?: number;
      used?: number;
      reserved?: number;
      requested?: number;
    };
    const metric = String(p.metric ?? '');
    // The scenes are what every metered quantity is computed from: the message goes beside them.
    return {
      '/scenes': `Quota exceeded for ${metricLabel(metric)}: ${formatQuantity(metric, Number(p.requested ?? 0))} requested, ${formatQuantity(metric, Math.max(0, Number(p.limit ?? 0) - Number(p.used ?? 0) - Number(p.reserved ?? 0)))} left of ${formatQuantity(metric, Number(p.limit ?? 0))}.`,
    };
  }
  if (err instanceof RendermillError) return { '/': err.message };
  return err ? { '/': 'The request failed. Try again.' } : {};
}

function FieldError(props: { id: string; message: string | undefined; alert?: boolean }) {
  return props.message ? (
    <span id={props.id} className="field-error" {...(props.alert ? { role: 'alert' } : {})}>
      {props.message}
    </span>
  ) : null;
}

interface ControlProps {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** A labelled control with the API's error for it right beside it (and linked by aria-describedby). */
function Field(props: {
  id: string;
  label: string;
  error: string | undefined;
  wide?: boolean;
  children: (control: ControlProps) => ReactNode;
}) {
  const errorId = `${props.id}-error`;
  return (
    <div className={props.wide ? 'field wide' : 'field'}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children({
        id: props.id,
        'aria-invalid': props.error ? true : undefined,
        'aria-describedby': props.error ? errorId : undefined,
      })}
      <FieldError id={errorId} message={props.error} />
    </div>
  );
}

export function NewRenderPage() {
  const session = useSession();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [rows, setRows] = useState<Row[]>(() => withKeys(SAMPLE_SCENES));
  const [jsonText, setJsonText] = useState(() => JSON.stringify(SAMPLE_SCENES, null, 2));
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [resolution, setResolution] = useState<NonNullable<RenderRequest['resolution']>>('720p');
  const [fps, setFps] = useState<NonNullable<RenderRequest['fps']>>(30);
  const idempotency = useRef({ body: '', key: '' });

  const request: RenderRequest = { scenes: withoutKeys(rows), resolution, fps };

  const fromEditor = (next: Row[]) => {
    setRows(next);
    setJsonText(JSON.stringify(withoutKeys(next), null, 2));
    setJsonError(null);
  };
  const update = (i: number, patch: Partial<Scene>) =>
    fromEditor(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const move = (i: number, by: number) => {
    const next = [...rows];
    const [row] = next.splice(i, 1);
    if (row) next.splice(i + by, 0, row);
    fromEditor(next);
  };
  const fromJson = (text: string) => {
    setJsonText(text);
    const parsed = parseScenes(text);
    if (typeof parsed === 'string') {
      setJsonError(parsed);
      return;
    }
    setJsonError(null);
    setRows(withKeys(parsed));
  };

  const estimate = useMutation({ mutationFn: () => session.call((rm) => rm.renders.estimate(request)) });
  const submit = useMutation({
    mutationFn: () => {
      // The same body keeps its key: a double click or a retry makes one job.
      const body = JSON.stringify(request);
      if (idempotency.current.body !== body) idempotency.current = { body, key: crypto.randomUUID() };
      const key = idempotency.current.key;
      return session.call((rm) => rm.renders.create(request, { idempotencyKey: key }));
    },
    onSuccess: (job) => {
      void queries.invalidateQueries({ queryKey: ['jobs'] });
      void queries.invalidateQueries({ queryKey: ['usage'] });
      navigate(`/renders/${job.id}`);
    },
  });
  const errors = fieldErrorsOf(submit.error ?? estimate.error);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!submit.isPending && !jsonError) submit.mutate();
  };

  return (
    <>
      <h1>New render</h1>
      <form onSubmit={onSubmit} noValidate>
        <h2>Scenes</h2>
        <FieldError id="err-scenes" message={errors['/scenes']} alert />
        <ol className="scenes">
          {rows.map((row, i) => {
            const p = `/scenes/${i}`;
            const field = (name: keyof Scene, label: string, wide = false) => ({
              id: `scene-${row.key}-${name}`,
              label,
              wide,
              error: errors[`${p}/${name}`] ?? (name === 'duration' ? errors[p] : undefined),
            });
            const text = (name: 'title' | 'image_url' | 'text') => ({
              value: row[name] ?? '',
              onChange: (e: { target: { value: string } }) =>
                update(i, { [name]: e.target.value || undefined }),
            });
            return (
              <li key={row.key}>
                <fieldset>
                  <legend>Scene {i + 1}</legend>
                  <Field {...field('text', 'Narration', true)}>
                    {(a) => <textarea {...a} rows={2} {...text('text')} />}
                  </Field>
                  <Field {...field('title', 'Title')}>{(a) => <input {...a} {...text('title')} />}</Field>
                  <Field {...field('background', 'Background')}>
                    {(a) => (
                      <input
                        {...a}
                        type="color"
                        value={row.background ?? '#111827'}
                        onChange={(e) => update(i, { background: e.target.value })}
                      />
                    )}
                  </Field>
                  <Field {...field('image_url', 'Image URL')}>
                    {(a) => <input {...a} type="url" {...text('image_url')} />}
                  </Field>
                  <Field {...field('duration', 'Duration')}>
                    {(a) => (
                      <input
                        {...a}
                        type="number"
                        min={0}
                        step={0.5}
                        value={row.duration ?? ''}
                        onChange={(e) =>
                          update(i, { duration: e.target.value === '' ? undefined : Number(e.target.value) })
                        }
                      />
                    )}
                  </Field>
                  <div className="row-actions">
                    <button type="button" onClick={() => move(i, -1)} disabled={i === 0}>
                      Move up<span className="visually-hidden"> scene {i + 1}</span>
                    </button>
                    <button type="button" onClick={() => move(i, 1)} disabled={i === rows.length - 1}>
                      Move down<span className="visually-hidden"> scene {i + 1}</span>
                    </button>
                    <button
                      type="button"
                      onClick={() => fromEditor(rows.filter((_, j) => j !== i))}
                      disabled={rows.length === 1}
                    >
                      Remove<span className="visually-hidden"> scene {i + 1}</span>
                    </button>
                  </div>
                </fieldset>
              </li>
            );
          })}
        </ol>
        <button type="button" onClick={() => fromEditor([...rows, ...withKeys([{ duration: 3 }])])}>
          Add scene
        </button>

        <Field
          id="scenes-json"
          label="Scenes (JSON)"
          wide
          error={jsonError ? `Not applied: ${jsonError}` : undefined}
        >
          {(a) => (
            <textarea
              {...a}
              rows={10}
              spellCheck={false}
              value={jsonText}
              onChange={(e) => fromJson(e.target.value)}
            />
          )}
        </Field>

        <div className="settings">
          <Field id="resolution" label="Resolution" error={errors['/resolution']}>
            {(a) => (
              <select
                {...a}
                value={resolution}
                onChange={(e) => setResolution(e.target.value as typeof resolution)}
              >
                {['720p', '1080p', '2160p'].map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="fps" label="FPS" error={errors['/fps']}>
            {(a) => (
              <select {...a} value={fps} onChange={(e) => setFps(Number(e.target.value) as typeof fps)}>
                {[24, 25, 30, 60].map((f) => (
                  <option key={f} value={f}>
                    {f}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>

        <div className="actions">
          <button
            type="button"
            onClick={() => estimate.mutate()}
            disabled={estimate.isPending || !!jsonError}
          >
            Estimate
          </button>
          <button type="submit" disabled={submit.isPending || !!jsonError}>
            Render
          </button>
        </div>
        {errors['/'] ? (
          <p className="field-error" role="alert">
            {errors['/']}
          </p>
        ) : null}
        {estimate.isError && estimate.error instanceof NotFoundError ? (
          <p role="status">Estimates are not available on this server.</p>
        ) : null}
        {estimate.data ? <EstimateView estimate={estimate.data} /> : null}
      </form>
    </>
  );
}

function EstimateView(props: { estimate: Estimate }) {
  const entries = Object.entries(props.estimate);
  return (
    <section className="estimate" aria-label="Estimate" role="status">
      <h2>Estimate</h2>
      <dl>
        {entries.map(([k, v]) => (
          <div key={k}>
            <dt>{k.replaceAll('_', ' ')}</dt>
            <dd>
              {typeof v === 'object' && v !== null ? (
                <ul>
                  {Object.entries(v as Record<string, unknown>).map(([m, q]) => (
                    <li key={m}>
                      {metricLabel(m)}:{' '}
                      {typeof q === 'number'
                        ? formatQuantity(m, q)
                        : typeof q === 'object'
                          ? JSON.stringify(q)
                          : String(q)}
                    </li>
                  ))}
                </ul>
              ) : (
                String(v)
              )}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
