import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../shared/config/config.ts';

/**
 * docker-compose.yml cannot be run here (no Docker): its structure is checked instead — it
 * parses, every bind mount exists, every named volume and dependency is declared, Prometheus
 * scrapes the api and worker services on their ports, and the app settings are config variables.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked freely
type Doc = Record<string, any>;
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Doc;
const services = compose.services as Record<string, Doc>;

describe('docker-compose.yml', () => {
  it('when it is parsed, then every service has an image or a build and every dependency is a service', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image ?? s.build, `${name} image`).toBeTruthy();
      for (const dep of Object.keys(s.depends_on ?? {}))
        expect(services[dep], `${name} → ${dep}`).toBeDefined();
    }
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['api', 'worker', 'prometheus', 'grafana']));
  });

  it('when services mount files, then bind mounts exist in the repository and named volumes are declared', () => {
    let binds = 0;
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s.volumes ?? []) as string[]) {
        const [source = ''] = v.split(':');
        if (source.startsWith('./')) {
          binds++;
          expect(existsSync(path.join(ROOT, source)), `${name}: ${source}`).toBe(true);
        } else {
          expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${source}`).toContain(source);
        }
      }
    }
    expect(binds).toBeGreaterThanOrEqual(4);
  });

  it('when Prometheus starts, then it scrapes the api and worker services on the ports they listen on', () => {
    const prom = parse(readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as Doc;
    const jobs = Object.fromEntries((prom.scrape_configs as Doc[]).map((j) => [j.job_name, j]));
    expect(jobs['rendermill-api'].static_configs[0].targets).toEqual([
      `api:${services.api?.environment.PORT}`,
    ]);
    const dns = jobs['rendermill-worker'].dns_sd_configs[0];
    expect(dns.names).toEqual(['worker']);
    expect(String(dns.port)).toBe(services.worker?.environment.METRICS_PORT);
    expect(services.worker?.expose).toContain(String(dns.port));
    // Grafana reads the same Prometheus, and the dashboards folder its provider names.
    const provider = parse(
      readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/dashboards/rendermill.yml'), 'utf8'),
    ) as Doc;
    const dashboardsMount = ((services.grafana?.volumes ?? []) as string[]).find((v) =>
      v.startsWith('./deploy/grafana/dashboards'),
    );
    expect(dashboardsMount?.split(':')[1]).toBe(provider.providers[0].options.path);
    const datasource = parse(
      readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as Doc;
    expect(datasource.datasources[0].url).toBe('http://prometheus:9090');
  });

  it('when the api and worker are configured, then every variable they set exists in the config schema', () => {
    const known = new Set(Object.keys(configSchema.innerType().innerType().shape));
    for (const name of ['api', 'worker']) {
      const vars = Object.keys(services[name]?.environment ?? {});
      expect(vars.length).toBeGreaterThan(5);
      expect(vars.filter((v) => !known.has(v))).toEqual([]);
    }
  });
});
