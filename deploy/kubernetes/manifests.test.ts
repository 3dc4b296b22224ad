import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { configSchema, loadConfig } from '../../shared/config/config.ts';

/**
 * The manifests against the Kubernetes v1.36 OpenAPI schemas (kubernetes-models 5.1.0, whose
 * validators are that spec compiled with ajv) and KEDA's ScaledObject CRD schema
 * (@kubernetes-models/keda 2.0.0, KEDA v2.19 CRDs). Nothing is fetched at test time.
 */
const DIR = import.meta.dirname;
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked freely; the schema validators check its shape
type Doc = Record<string, any>;
type Model = new (data: never) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

function load(file: string): Doc[] {
  return parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0]?.message}`);
    return d.toJS() as Doc;
  });
}

function validate(doc: Doc): void {
  const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new model(doc as never).validate();
}

const kustomization = load('kustomization.yaml')[0]!;
const resourceFiles: string[] = kustomization.resources;
const manifests = [...resourceFiles, 'fallback/worker-hpa.yaml'].flatMap((file) =>
  load(file).map((doc) => ({ file, doc })),
);
const byKind = (kind: string, name: string) =>
  manifests.find((m) => m.doc.kind === kind && m.doc.metadata.name === name)?.doc as Doc;
const deployments = manifests.filter((m) => m.doc.kind === 'Deployment').map((m) => m.doc);
const backupJob = byKind('CronJob', 'rendermill-backup')?.spec.jobTemplate as Doc;
const podSpecs = [...deployments, byKind('Job', 'rendermill-migrate'), backupJob].map(
  (d) => d.spec.template.spec,
);

describe('Kubernetes manifests', () => {
  it('when kustomize builds the directory, then every manifest file is listed and exists', () => {
    const onDisk = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...resourceFiles].sort()).toEqual(onDisk.sort());
  });

  it.each(manifests.map((m) => [`${m.file} ${m.doc.kind}/${m.doc.metadata?.name}`, m.doc]))(
    'when %s is checked against its schema, then it validates',
    (_name, doc) => {
      expect(() => validate(doc as Doc)).not.toThrow();
    },
  );

  it('when a manifest breaks the schema, then validation fails (the check can fail)', () => {
    const api = structuredClone(byKind('Deployment', 'rendermill-api'));
    api.spec.replicas = 'two';
    expect(() => validate(api)).toThrow(/replicas/);
    const scaled = structuredClone(byKind('ScaledObject', 'rendermill-worker'));
    delete scaled.spec.scaleTargetRef;
    expect(() => validate(scaled)).toThrow(/scaleTargetRef/);
  });

  it('when the api and worker are deployed, then they have the probes, drains and autoscalers the runbook relies on', () => {
    const api = byKind('Deployment', 'rendermill-api');
    const apiContainer = api.spec.template.spec.containers[0];
    expect(apiContainer.readinessProbe.httpGet.path).toBe('/readyz');
    expect(apiContainer.livenessProbe.httpGet.path).toBe('/healthz');
    expect(byKind('Service', 'rendermill-api').spec.selector).toEqual(api.spec.selector.matchLabels);

    const worker = byKind('Deployment', 'rendermill-worker');
    const spec = worker.spec.template.spec;
    const container = spec.containers[0];
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    // No Service selects the workers.
    for (const m of manifests.filter((x) => x.doc.kind === 'Service')) {
      expect(m.doc.spec.selector['app.kubernetes.io/component']).not.toBe('worker');
    }
    // The grace period outlasts the drain, which outlasts a compose step for a 5-minute video.
    const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value]));
    const drain = Number(env.SHUTDOWN_GRACE_SECONDS);
    const composeDeadline = Number(env.STEP_TIMEOUT_SECONDS) + 2 * 300;
    expect(drain).toBeGreaterThan(composeDeadline);
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(drain);
    expect(container.lifecycle.preStop.exec.command.join(' ')).toContain('kill -TERM 1');

    const selects = (doc: Doc, d: Doc) =>
      Object.entries(doc.spec.selector.matchLabels).every(
        ([k, v]) => d.spec.template.metadata.labels[k] === v,
      );
    expect(selects(byKind('PodDisruptionBudget', 'rendermill-api'), api)).toBe(true);
    expect(selects(byKind('PodDisruptionBudget', 'rendermill-worker'), worker)).toBe(true);
    expect(byKind('HorizontalPodAutoscaler', 'rendermill-api').spec.metrics[0].resource.name).toBe('cpu');
    const scaled = byKind('ScaledObject', 'rendermill-worker');
    expect(scaled.spec.scaleTargetRef.name).toBe('rendermill-worker');
    expect(scaled.spec.triggers[0].metadata.query).toContain('rendermill_queue_depth');
    expect(byKind('HorizontalPodAutoscaler', 'rendermill-worker').spec.scaleTargetRef.name).toBe(
      'rendermill-worker',
    );
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0];
      expect(c.resources.requests.memory).toBeTruthy();
      expect(c.resources.limits.memory).toBeTruthy();
    }
  });

  it('when the backup CronJob runs, then it runs what `npm run backup` runs, one at a time, on the storage volume', () => {
    const cron = byKind('CronJob', 'rendermill-backup');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.schedule).toMatch(/^\S+ \S+ \* \* \*$/);
    const pkg = JSON.parse(readFileSync(path.join(DIR, '../../package.json'), 'utf8'));
    const script = String(pkg.scripts.backup).split(' ').at(-1);
    const pod = backupJob.spec.template.spec;
    const container = pod.containers[0];
    expect(container.command.at(-1)).toBe(script);
    expect(container.command).toContain('tsx');
    expect(pod.restartPolicy).toBe('Never');
    // The deadline outlasts one pg_dump (BACKUP_TIMEOUT_SECONDS) so the CLI's own timeout reports first.
    const config = loadConfig({
      ...byKind('ConfigMap', 'rendermill-config').data,
      ...byKind('Secret', 'rendermill-secrets').stringData,
    });
    expect(backupJob.spec.activeDeadlineSeconds).toBeGreaterThan(config.BACKUP_TIMEOUT_SECONDS);
    // Backups go to backups/<id>/ under STORAGE_DIR: the same volume the API reads and workers write.
    const mount = container.volumeMounts.find((m: Doc) => m.mountPath === config.STORAGE_DIR);
    const volume = pod.volumes.find((v: Doc) => v.name === mount?.name);
    expect(volume?.persistentVolumeClaim.claimName).toBe('rendermill-storage');
    // The root filesystem is read-only: the dump's scratch directory is a writable emptyDir.
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const tmp = container.volumeMounts.find((m: Doc) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v: Doc) => v.name === tmp?.name)?.emptyDir).toBeTruthy();
  });

  it('when the manifests set environment variables, then each one exists in the config schema', () => {
    const known = new Set(Object.keys(configSchema.innerType().innerType().shape));
    const set = new Set<string>();
    for (const key of Object.keys(byKind('ConfigMap', 'rendermill-config').data)) set.add(key);
    for (const key of Object.keys(byKind('Secret', 'rendermill-secrets').stringData)) set.add(key);
    for (const pod of podSpecs) {
      for (const c of pod.containers) for (const e of c.env ?? []) set.add(e.name);
    }
    expect(set.size).toBeGreaterThan(10);
    expect([...set].filter((name) => !known.has(name))).toEqual([]);
    // Every envFrom names the ConfigMap or the Secret above.
    for (const pod of podSpecs) {
      for (const c of pod.containers) {
        expect(c.envFrom.map((f: Doc) => f.configMapRef?.name ?? f.secretRef?.name).sort()).toEqual([
          'rendermill-config',
          'rendermill-secrets',
        ]);
      }
    }
  });

  it('when a worker starts with the example ConfigMap, Secret and its own env, then the config parses', () => {
    const base = {
      ...byKind('ConfigMap', 'rendermill-config').data,
      ...byKind('Secret', 'rendermill-secrets').stringData,
    };
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0];
      const env = Object.fromEntries(c.env.map((e: Doc) => [e.name, e.value]));
      expect(() => loadConfig({ ...base, ...env })).not.toThrow();
    }
  });
});
